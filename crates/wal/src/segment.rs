//! Segment files: naming, creation and the recovery scan.
//!
//! A segment is `<first index, 20 digits>.wal`: an 8-byte magic, then records. Every segment
//! begins with a hard-state record so that dropping older segments never loses the vote.
//! Sealed segments were fully synced before the next one was created, so any damage in them is
//! corruption; only the last segment may end in a torn write.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Result, WalError};
use crate::record::{self, Decoded, HardState};

pub const MAGIC: &[u8; 8] = b"QKVWAL01";

pub fn file_name(first_index: u64) -> String {
    format!("{first_index:020}.wal")
}

pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment paths in the directory, ordered by first index.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let read =
        fs::read_dir(dir).map_err(|e| WalError::io(&format!("read_dir {}", dir.display()), e))?;
    for entry in read {
        let entry = entry.map_err(|e| WalError::io("read_dir entry", e))?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_file_name) {
            found.push((first, entry.path()));
        }
    }
    found.sort_by_key(|(first, _)| *first);
    Ok(found)
}

pub fn open_rw(path: &Path, create: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(|e| WalError::io(&format!("open {}", path.display()), e))
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| WalError::io(&format!("open dir {}", dir.display()), e))?;
    d.sync_all().map_err(|e| WalError::FsyncFailed {
        message: format!("fsync dir {}: {e}", dir.display()),
    })
}

/// One entry found by the scan.
#[derive(Debug, Clone, Copy)]
pub struct ScannedEntry {
    pub term: u64,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug)]
pub struct Scan {
    pub entries: Vec<ScannedEntry>,
    pub hard_state: Option<HardState>,
    /// Offset just past the last verified record.
    pub valid_end: u64,
    /// Bytes after `valid_end` (a torn tail, only allowed in the last segment).
    pub torn_bytes: u64,
}

/// Verifies every record of one segment. `is_last` allows a torn tail.
pub fn scan(path: &Path, first_index: u64, is_last: bool, record_bytes_max: usize) -> Result<Scan> {
    let buf = fs::read(path).map_err(|e| WalError::io(&format!("read {}", path.display()), e))?;
    let corrupt = |offset: usize, reason: String| WalError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };

    // Where the trailing run of zeros begins: the space the writer zero-fills ahead of the log
    // (`Writer::zero_ahead`), or the file system extended and the crash never wrote.
    let zeros_from = buf.iter().rposition(|b| *b != 0).map_or(0, |at| at + 1);
    match header(&buf, is_last, zeros_from) {
        Ok(Header::Intact) => {}
        Ok(Header::TornAtCreation) => {
            return Ok(Scan {
                entries: Vec::new(),
                hard_state: None,
                valid_end: 0,
                torn_bytes: buf.len() as u64,
            })
        }
        Err(reason) => return Err(corrupt(0, reason.into())),
    }

    let mut scan = Scan {
        entries: Vec::new(),
        hard_state: None,
        valid_end: MAGIC.len() as u64,
        torn_bytes: 0,
    };
    let mut offset = MAGIC.len();
    let mut expected_index = first_index;
    while offset < buf.len() {
        let decoded = record::decode(&buf[offset..], record_bytes_max);
        // A group cut short by a crash leaves a prefix of its bytes and zeros after it, so the
        // damaged record is the last one written: nothing after it holds data. Its group's
        // fdatasync never finished, so no entry from it was acknowledged and recovery may drop
        // it with everything after it. Only the last segment can end this way.
        let torn = is_last
            && match &decoded {
                Decoded::Record(..) => false,
                Decoded::Incomplete => true,
                Decoded::BadBody { len } => zeros_from <= offset + len,
                Decoded::BadHeader(_) => zeros_from < offset + record::HEADER_BYTES,
            };
        match decoded {
            Decoded::Record(rec, len) => {
                take_record(&mut scan, &rec, offset, len, &mut expected_index)
                    .map_err(|reason| corrupt(offset, reason))?;
                offset += len;
                scan.valid_end = offset as u64;
            }
            _ if torn => {
                scan.torn_bytes = (buf.len() - offset) as u64;
                return Ok(scan);
            }
            Decoded::Incomplete => {
                return Err(corrupt(
                    offset,
                    "incomplete record in a sealed segment".into(),
                ))
            }
            Decoded::BadBody { .. } => {
                return Err(corrupt(offset, "body checksum mismatch".into()))
            }
            Decoded::BadHeader(reason) => return Err(corrupt(offset, reason)),
        }
    }
    Ok(scan)
}

enum Header {
    Intact,
    /// Nothing of the segment is log: it is truncated and its header written again.
    TornAtCreation,
}

/// A segment's header (`MAGIC`), or why it is corrupt. `zeros_from`: where the file's trailing
/// zeros begin.
///
/// Only a crash while creating the last segment leaves it without its header. Its first group
/// carries the header, and the zeros filled ahead of that group may reach the file (the process
/// dies between the two writes, or power fails with only the zeros' pages written back), so what
/// is there is a prefix of the magic (possibly none of it) and nothing but zeros after it. That
/// group's fdatasync never finished: nothing in the segment was acknowledged.
fn header(
    buf: &[u8],
    is_last: bool,
    zeros_from: usize,
) -> std::result::Result<Header, &'static str> {
    if buf.len() >= MAGIC.len() && buf[..MAGIC.len()] == MAGIC[..] {
        return Ok(Header::Intact);
    }
    let magic_prefix = buf.iter().zip(MAGIC).take_while(|(a, b)| a == b).count();
    if is_last && zeros_from <= magic_prefix {
        Ok(Header::TornAtCreation)
    } else if buf.len() < MAGIC.len() {
        Err("segment shorter than its header")
    } else {
        Err("bad segment magic")
    }
}

/// Adds one verified record at `offset` to `scan`; entries must be consecutive from
/// `expected_index`. The error is the reason the segment is corrupt.
fn take_record(
    scan: &mut Scan,
    rec: &record::Record,
    offset: usize,
    len: usize,
    expected_index: &mut u64,
) -> std::result::Result<(), String> {
    match rec.kind {
        record::KIND_ENTRY => {
            if rec.index != *expected_index {
                return Err(format!(
                    "entry index {} where {expected_index} was expected",
                    rec.index
                ));
            }
            scan.entries.push(ScannedEntry {
                term: rec.term,
                offset: offset as u64,
                len: len as u32,
            });
            *expected_index += 1;
            Ok(())
        }
        record::KIND_HARD_STATE => {
            let hs = record::decode_hard_state(&rec.payload).ok_or("malformed hard state")?;
            scan.hard_state = Some(hs);
            Ok(())
        }
        other => Err(format!("unknown record kind {other}")),
    }
}
