//! quorumkv's Raft write-ahead log: segmented, CRC32C-framed, group-committed through a
//! dedicated I/O thread (io_uring with a pwrite + fdatasync fallback).
//!
//! Invariants:
//! - an append is reported durable only after the fdatasync covering it succeeded;
//! - an fdatasync failure poisons the log: every later append fails with `WAL_FATAL`;
//! - only durable entries are readable; entries are contiguous from `first_index`.

mod error;
mod io;
pub mod metrics;
mod record;
mod segment;
mod state;
mod writer;

use std::collections::VecDeque;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

pub use error::{Result, WalError};
pub use io::{BackendChoice, Faults};
pub use record::HardState;
pub use writer::Notify;

use state::{Loc, Segment, State};
use writer::{Durable, Op, OpKind, Queue, Shared, Writer};

/// Bytes of one packed entry header: `[term u64][len u32]`.
pub const PACKED_HEADER_BYTES: usize = 12;

#[derive(Debug, Clone)]
pub struct Options {
    /// Largest framed record (one entry). Default 8 MiB.
    pub record_bytes_max: usize,
    /// A segment is sealed once it would exceed this. Default 64 MiB.
    pub segment_bytes_max: u64,
    /// Most bytes written (and synced) as one group. Default 16 MiB.
    pub group_bytes_max: usize,
    /// Most bytes waiting for the I/O thread; appends beyond fail with `WAL_LIMIT`. Default 256 MiB.
    pub queue_bytes_max: usize,
    pub backend: BackendChoice,
    pub faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            record_bytes_max: 8 << 20,
            segment_bytes_max: 64 << 20,
            group_bytes_max: 16 << 20,
            queue_bytes_max: 256 << 20,
            backend: BackendChoice::Auto,
            faults: Faults::default(),
        }
    }
}

/// What open found on disk.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub segments: usize,
    pub entries: u64,
    /// Bytes of a torn tail that were cut off the last segment.
    pub truncated_bytes: u64,
}

pub struct Wal {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    backend_name: &'static str,
    backend_fallback_reason: Option<String>,
    recovery: RecoveryReport,
    record_bytes_max: usize,
    queue_bytes_max: usize,
    stats: Arc<Stats>,
    allow_stall: bool,
}

#[derive(Default)]
pub struct Stats {
    pub syncs: AtomicU64,
    pub entries: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct StatsSnapshot {
    pub syncs: u64,
    pub entries: u64,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir`, verifying every record.
    pub fn open(dir: &Path, options: Options, notify: Option<Notify>) -> Result<Wal> {
        fs::create_dir_all(dir)
            .map_err(|e| WalError::io(&format!("create {}", dir.display()), e))?;
        complete_interrupted_reset(dir)?;
        let (state, recovery) = recover(dir, &options)?;
        let next_index = state.last_index() + 1;
        let (backend, fallback_reason) =
            io::Backend::open(options.backend).map_err(|e| WalError::io("io_uring setup", e))?;
        let backend_name = backend.name();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            queue: Mutex::new(Queue {
                ops: VecDeque::new(),
                queued_bytes: 0,
                next_index,
                next_ticket: 1,
                closed: false,
            }),
            queue_cond: Condvar::new(),
            durable: Mutex::new(Durable {
                ok_through: 0,
                error: None,
            }),
            durable_cond: Condvar::new(),
            notify: Mutex::new(notify),
            group_bytes_max: options.group_bytes_max,
            segment_bytes_max: options.segment_bytes_max,
            stall: Mutex::new(None),
        });
        metrics::touch();
        let stats = Arc::new(Stats::default());
        let writer = Writer {
            shared: shared.clone(),
            backend,
            faults: options.faults,
            syncs: 0,
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("qkv-wal-io".into())
            .spawn(move || writer.run())
            .map_err(|e| WalError::io("spawn WAL I/O thread", e))?;
        Ok(Wal {
            shared,
            thread: Mutex::new(Some(thread)),
            backend_name,
            backend_fallback_reason: fallback_reason,
            recovery,
            record_bytes_max: options.record_bytes_max,
            queue_bytes_max: options.queue_bytes_max,
            stats,
            allow_stall: options.faults.allow_stall,
        })
    }

    /// Test-only: every fdatasync takes `delay` longer for the next `duration` (a disk stall).
    /// Refused unless the log was opened with `Faults::allow_stall`.
    pub fn set_sync_stall(
        &self,
        delay: std::time::Duration,
        duration: std::time::Duration,
    ) -> Result<()> {
        if !self.allow_stall {
            return Err(WalError::InvalidArgument {
                message: "disk stalls are a test fault; open the log with allow_stall".into(),
            });
        }
        let until = std::time::Instant::now() + duration;
        *self.shared.stall.lock().unwrap() = Some((delay, until));
        Ok(())
    }

    /// `io_uring` or `pwrite`.
    pub fn backend(&self) -> &'static str {
        self.backend_name
    }

    /// Why io_uring was not used, when `Auto` fell back.
    pub fn backend_fallback_reason(&self) -> Option<&str> {
        self.backend_fallback_reason.as_deref()
    }

    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            syncs: self.stats.syncs.load(Ordering::Relaxed),
            entries: self.stats.entries.load(Ordering::Relaxed),
        }
    }

    /// Queues a batch: entries `first_index..` packed as `[term u64][len u32][data]`, and/or a
    /// hard state. Returns a ticket; the batch is durable once the notifier (or
    /// `wait_durable`) reports a ticket at least as large. `first_index` at or below the last
    /// index truncates the conflicting suffix first (Raft's rule for followers).
    pub fn append(
        &self,
        first_index: u64,
        packed: Vec<u8>,
        hard_state: Option<HardState>,
    ) -> Result<u64> {
        let count = self.validate_packed(&packed)?;
        if count == 0 && hard_state.is_none() {
            return Err(WalError::InvalidArgument {
                message: "append needs entries or a hard state".into(),
            });
        }
        let bytes = packed.len()
            + count * (record::HEADER_BYTES + record::BODY_FIXED_BYTES - PACKED_HEADER_BYTES)
            + 64;
        self.check_group_bytes(bytes)?;
        if let Some(fatal) = &self.shared.state.lock().unwrap().fatal {
            return Err(WalError::Fatal {
                message: fatal.clone(),
            });
        }
        let first_allowed = self.shared.state.lock().unwrap().first_index;
        let mut queue = self.shared.queue.lock().unwrap();
        self.check_queue(&queue, first_index, first_allowed, count, bytes)?;
        // Only an accepted append moves the next index (a refused one must leave no trace).
        if count > 0 {
            queue.next_index = first_index + count as u64;
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.queued_bytes += bytes;
        queue.ops.push_back(Op {
            ticket,
            bytes,
            kind: OpKind::Append {
                first_index,
                packed,
                count,
                hard_state,
            },
        });
        drop(queue);
        self.shared.queue_cond.notify_one();
        Ok(ticket)
    }

    fn check_group_bytes(&self, bytes: usize) -> Result<()> {
        if bytes > self.shared.group_bytes_max {
            return Err(WalError::Limit {
                message: format!(
                    "batch of {bytes} bytes exceeds groupBytesMax {}",
                    self.shared.group_bytes_max
                ),
            });
        }
        Ok(())
    }

    /// Whether the queue takes an append of `count` entries at `first_index` (`bytes` in all):
    /// open, contiguous with what is queued (or a truncating rewrite), and within queueBytesMax.
    fn check_queue(
        &self,
        queue: &Queue,
        first_index: u64,
        first_allowed: u64,
        count: usize,
        bytes: usize,
    ) -> Result<()> {
        if queue.closed {
            return Err(WalError::Closed);
        }
        let leaves_gap =
            first_index == 0 || first_index > queue.next_index || first_index < first_allowed;
        if count > 0 && leaves_gap {
            return Err(WalError::Gap {
                message: format!(
                    "append at index {first_index}: the log accepts {first_allowed}..={}",
                    queue.next_index
                ),
            });
        }
        if queue.queued_bytes + bytes > self.queue_bytes_max {
            return Err(WalError::Limit {
                message: format!(
                    "WAL queue holds {} bytes; queueBytesMax is {}",
                    queue.queued_bytes, self.queue_bytes_max
                ),
            });
        }
        Ok(())
    }

    /// Replaces the whole log with an empty one whose next entry is `next_index` (used after a
    /// snapshot is installed). Ordered with appends; returns a ticket like `append`.
    pub fn reset(&self, next_index: u64) -> Result<u64> {
        if next_index == 0 {
            return Err(WalError::InvalidArgument {
                message: "next index must be at least 1".into(),
            });
        }
        let mut queue = self.shared.queue.lock().unwrap();
        if queue.closed {
            return Err(WalError::Closed);
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.next_index = next_index;
        queue.ops.push_back(Op {
            ticket,
            bytes: 0,
            kind: OpKind::Reset { next_index },
        });
        drop(queue);
        self.shared.queue_cond.notify_one();
        Ok(ticket)
    }

    /// Blocks until `ticket` is durable (for Rust callers and tests; JS uses the notifier).
    pub fn wait_durable(&self, ticket: u64) -> Result<()> {
        let mut durable = self.shared.durable.lock().unwrap();
        loop {
            if durable.ok_through >= ticket {
                return Ok(());
            }
            if let Some(err) = &durable.error {
                return Err(err.clone());
            }
            durable = self.shared.durable_cond.wait(durable).unwrap();
        }
    }

    fn validate_packed(&self, packed: &[u8]) -> Result<usize> {
        let mut at = 0usize;
        let mut count = 0usize;
        while at < packed.len() {
            if packed.len() - at < PACKED_HEADER_BYTES {
                return Err(WalError::InvalidArgument {
                    message: format!("packed entries end inside a header at byte {at}"),
                });
            }
            let len = u32::from_le_bytes(packed[at + 8..at + 12].try_into().unwrap()) as usize;
            if packed.len() - at - PACKED_HEADER_BYTES < len {
                return Err(WalError::InvalidArgument {
                    message: format!("packed entry {count} declares {len} bytes past the end"),
                });
            }
            if record::encoded_len(len) > self.record_bytes_max {
                return Err(WalError::Limit {
                    message: format!(
                        "entry of {len} bytes exceeds recordBytesMax {}",
                        self.record_bytes_max
                    ),
                });
            }
            at += PACKED_HEADER_BYTES + len;
            count += 1;
        }
        Ok(count)
    }

    pub fn first_index(&self) -> u64 {
        self.shared.state.lock().unwrap().first_index
    }

    /// Last durable index (`first_index - 1` when the log is empty).
    pub fn last_index(&self) -> u64 {
        self.shared.state.lock().unwrap().last_index()
    }

    pub fn term(&self, index: u64) -> Option<u64> {
        self.shared.state.lock().unwrap().loc(index).map(|l| l.term)
    }

    pub fn hard_state(&self) -> HardState {
        self.shared.state.lock().unwrap().hard_state
    }

    /// Durable entries in `[lo, hi)`, packed like `append`'s input, stopping once `bytes_max`
    /// is reached (at least one entry is always returned). Returns the packed bytes and count.
    pub fn entries(&self, lo: u64, hi: u64, bytes_max: usize) -> Result<(Vec<u8>, usize)> {
        let (locs, files) = {
            let state = self.shared.state.lock().unwrap();
            if lo < state.first_index || hi > state.last_index() + 1 || lo > hi {
                return Err(WalError::Gap {
                    message: format!(
                        "entries [{lo}, {hi}) outside the log [{}, {}]",
                        state.first_index,
                        state.last_index()
                    ),
                });
            }
            let mut locs: Vec<Loc> = Vec::new();
            let mut total = 0usize;
            for index in lo..hi {
                let loc = state.loc(index).expect("checked range");
                if !locs.is_empty() && total + loc.len as usize > bytes_max {
                    break;
                }
                total += loc.len as usize;
                locs.push(loc);
            }
            let files: Vec<_> = locs
                .iter()
                .map(|l| state.segment(l.segment_seq).file.clone())
                .collect();
            (locs, files)
        };
        let mut out = Vec::with_capacity(locs.iter().map(|l| l.len as usize).sum());
        let mut scratch = Vec::new();
        for (loc, file) in locs.iter().zip(files) {
            scratch.resize(loc.len as usize, 0);
            file.read_exact_at(&mut scratch, loc.offset)
                .map_err(|e| WalError::io("read entry", e))?;
            match record::decode(&scratch, self.record_bytes_max) {
                record::Decoded::Record(rec, _) => {
                    out.extend_from_slice(&rec.term.to_le_bytes());
                    out.extend_from_slice(&(rec.payload.len() as u32).to_le_bytes());
                    out.extend_from_slice(&rec.payload);
                }
                other => {
                    return Err(WalError::Corrupt {
                        file: PathBuf::from("<segment>"),
                        offset: loc.offset,
                        reason: format!("{other:?}"),
                    })
                }
            }
        }
        Ok((out, locs.len()))
    }

    /// Drops whole sealed segments whose entries are all `<= index` (after a snapshot at
    /// `index`). Returns the new first index; entries above `index` are always kept.
    pub fn compact(&self, index: u64) -> Result<u64> {
        let mut state = self.shared.state.lock().unwrap();
        let mut dropped = false;
        while state.segments.len() > 1 {
            let next_first = state.segments[1].first_index;
            if next_first == 0 || next_first - 1 > index {
                break;
            }
            let segment = state.segments.pop_front().unwrap();
            let drop_count = (next_first - state.first_index) as usize;
            let drop_count = drop_count.min(state.locs.len());
            state.locs.drain(..drop_count);
            state.first_index = next_first;
            fs::remove_file(&segment.path)
                .map_err(|e| WalError::io("remove compacted segment", e))?;
            dropped = true;
        }
        if dropped {
            segment::sync_dir(&self.shared.dir)?;
        }
        Ok(state.first_index)
    }

    /// Stops accepting appends, lets the I/O thread finish what is queued, joins it and drops
    /// the notifier (which may be what keeps a JavaScript event loop alive).
    pub fn close(&self) {
        self.shared.queue.lock().unwrap().closed = true;
        self.shared.queue_cond.notify_all();
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
        self.shared.notify.lock().unwrap().take();
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.close();
    }
}

fn complete_interrupted_reset(dir: &Path) -> Result<()> {
    let read = fs::read_dir(dir).map_err(|e| WalError::io("read_dir", e))?;
    for entry in read {
        let entry = entry.map_err(|e| WalError::io("read_dir entry", e))?;
        if let Some(next_index) = entry
            .file_name()
            .to_str()
            .and_then(writer::parse_reset_tmp_name)
        {
            writer::finish_reset(dir, next_index)?;
        }
    }
    Ok(())
}

/// Scans every segment. Only the last may end torn; its tail is cut to the last complete record.
fn recover(dir: &Path, options: &Options) -> Result<(State, RecoveryReport)> {
    let found = segment::list(dir)?;
    let mut state = State {
        segments: VecDeque::new(),
        locs: VecDeque::new(),
        first_index: 1,
        hard_state: HardState::default(),
        fatal: None,
    };
    let mut report = RecoveryReport {
        segments: found.len(),
        ..Default::default()
    };
    if found.is_empty() {
        state.segments.push_back(fresh_log(dir)?);
        return Ok((state, report));
    }
    state.first_index = found[0].0;
    for (seq, (first_index, path)) in found.iter().enumerate() {
        if *first_index != state.last_index() + 1 {
            return Err(WalError::Corrupt {
                file: path.clone(),
                offset: 0,
                reason: format!(
                    "segment starts at {first_index} but the previous one ends at {}",
                    state.last_index()
                ),
            });
        }
        let is_last = seq + 1 == found.len();
        let segment = SegmentRef {
            seq: seq as u64,
            first_index: *first_index,
            path,
        };
        recover_segment(&mut state, &mut report, segment, is_last, options)?;
    }
    Ok((state, report))
}

/// An empty directory: the first segment, holding only its header.
fn fresh_log(dir: &Path) -> Result<Segment> {
    let path = dir.join(segment::file_name(1));
    let file = writer::write_fresh_segment(&path, &HardState::default())?;
    segment::sync_dir(dir)?;
    let size = file.metadata().map_err(|e| WalError::io("stat", e))?.len();
    Ok(Segment {
        seq: 0,
        first_index: 1,
        path,
        file: Arc::new(file),
        size,
        allocated: size,
    })
}

/// A segment file found at open, in order.
struct SegmentRef<'a> {
    seq: u64,
    first_index: u64,
    path: &'a Path,
}

/// Verifies one segment, truncates a torn tail (the last segment only), and adds its records'
/// locations and hard state to `state`.
fn recover_segment(
    state: &mut State,
    report: &mut RecoveryReport,
    seg: SegmentRef<'_>,
    is_last: bool,
    options: &Options,
) -> Result<()> {
    let scan = segment::scan(seg.path, seg.first_index, is_last, options.record_bytes_max)?;
    let mut file = segment::open_rw(seg.path, false)?;
    if scan.torn_bytes > 0 {
        file.set_len(scan.valid_end)
            .map_err(|e| WalError::io("truncate torn tail", e))?;
        file.sync_all().map_err(|e| WalError::FsyncFailed {
            message: format!("after truncating torn tail: {e}"),
        })?;
        report.truncated_bytes = scan.torn_bytes;
    }
    let mut size = scan.valid_end;
    if size == 0 {
        // The crash interrupted the creation of this segment: write its header now.
        drop(file);
        file = writer::write_fresh_segment(seg.path, &state.hard_state)?;
        size = file.metadata().map_err(|e| WalError::io("stat", e))?.len();
    }
    for e in &scan.entries {
        state.locs.push_back(Loc {
            term: e.term,
            segment_seq: seg.seq,
            offset: e.offset,
            len: e.len,
        });
    }
    report.entries += scan.entries.len() as u64;
    if let Some(hs) = scan.hard_state {
        state.hard_state = hs;
    }
    state.segments.push_back(Segment {
        seq: seg.seq,
        first_index: seg.first_index,
        path: seg.path.to_path_buf(),
        file: Arc::new(file),
        size,
        // A sealed segment was trimmed before the next one was made; the last one's torn
        // tail (zeros included) was cut above.
        allocated: size,
    });
    Ok(())
}
