//! The dedicated I/O thread. It takes every operation queued while the previous group was
//! syncing and makes them durable with one write and one fdatasync (group commit). Operations
//! are processed strictly in queue order, so a suffix truncation or a reset always sees every
//! earlier append durable and indexed.

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use crate::error::{Result, WalError};
use crate::io::{Backend, Faults};
use crate::record::{self, HardState};
use crate::segment;
use crate::state::{Loc, Segment, State};

/// How far ahead of the log the active segment is zero-filled at a time: the group that
/// extends it writes this much more, once per this many bytes of log.
const ZERO_AHEAD_BYTES: u64 = 1 << 20;

pub(crate) enum OpKind {
    /// Entries `first_index..` packed as `[term u64][len u32][data]`, plus an optional hard
    /// state. `first_index <= last index` means "truncate the conflicting suffix first".
    Append {
        first_index: u64,
        packed: Vec<u8>,
        count: usize,
        hard_state: Option<HardState>,
    },
    /// Drop the whole log; the next entry gets `next_index` (after installing a snapshot).
    Reset { next_index: u64 },
}

pub(crate) struct Op {
    pub ticket: u64,
    pub bytes: usize,
    pub kind: OpKind,
}

/// A group's records, encoded and not yet written.
struct EncodedGroup {
    buf: Vec<u8>,
    /// (term, offset in `buf`, length) of each entry record.
    locs: Vec<(u64, u64, u32)>,
    /// The newest hard state in the group.
    hard_state: Option<HardState>,
    /// The first index the group appends (None: only hard states).
    first_new_index: Option<u64>,
}

pub(crate) struct Queue {
    pub ops: VecDeque<Op>,
    pub queued_bytes: usize,
    /// Index the next appended entry takes, counting queued appends.
    pub next_index: u64,
    pub next_ticket: u64,
    pub closed: bool,
}

pub(crate) struct Durable {
    /// Every ticket up to this one is durable.
    pub ok_through: u64,
    /// Set once the log failed; every ticket above `ok_through` failed with it.
    pub error: Option<WalError>,
}

/// Called on the I/O thread after each group: `(ok_through, error)`. Tickets up to
/// `ok_through` are durable; when `error` is set every later ticket has failed.
pub type Notify = Box<dyn Fn(u64, Option<&WalError>) + Send + Sync>;

pub(crate) struct Shared {
    pub dir: std::path::PathBuf,
    pub state: Mutex<State>,
    pub queue: Mutex<Queue>,
    pub queue_cond: Condvar,
    pub durable: Mutex<Durable>,
    pub durable_cond: Condvar,
    pub notify: Mutex<Option<Notify>>,
    pub group_bytes_max: usize,
    pub segment_bytes_max: u64,
    /// Test-only disk stall: every fdatasync takes this much longer until the instant passes.
    pub stall: Mutex<Option<(std::time::Duration, std::time::Instant)>>,
}

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub backend: Backend,
    pub faults: Faults,
    pub syncs: u64,
    pub stats: Arc<crate::Stats>,
}

impl Writer {
    pub fn run(mut self) {
        while let Some(group) = self.take_group() {
            let last_ticket = group.last().map(|op| op.ticket).unwrap_or(0);
            match self.write_group(&group) {
                Ok(()) => self.complete(last_ticket, None),
                Err(err) => {
                    let err = match err {
                        e @ WalError::FsyncFailed { .. } => e,
                        other => WalError::Fatal {
                            message: other.to_string(),
                        },
                    };
                    self.shared.state.lock().unwrap().fatal = Some(err.to_string());
                    // Everything queued behind the failed group fails with it.
                    let mut queue = self.shared.queue.lock().unwrap();
                    queue.ops.clear();
                    queue.queued_bytes = 0;
                    queue.closed = true;
                    drop(queue);
                    let ok_through = self.shared.durable.lock().unwrap().ok_through;
                    self.complete(ok_through, Some(err));
                    return;
                }
            }
        }
        // A clean close leaves no zeros past the log. Should trimming fail, the zeros still
        // read as the log's end at the next open, so the close goes on.
        if let Err(err) = self.trim_active() {
            eprintln!("wal: could not trim the active segment at close: {err}");
        }
    }

    fn complete(&self, ok_through: u64, error: Option<WalError>) {
        {
            let mut durable = self.shared.durable.lock().unwrap();
            durable.ok_through = ok_through;
            durable.error = error.clone();
        }
        self.shared.durable_cond.notify_all();
        if let Some(notify) = self.shared.notify.lock().unwrap().as_ref() {
            notify(ok_through, error.as_ref());
        }
    }

    /// Blocks until work arrives; returns `None` once closed and drained. A truncating append
    /// or a reset always starts a group of its own.
    fn take_group(&self) -> Option<Vec<Op>> {
        let mut queue = self.shared.queue.lock().unwrap();
        while queue.ops.is_empty() && !queue.closed {
            queue = self.shared.queue_cond.wait(queue).unwrap();
        }
        if queue.ops.is_empty() {
            return None;
        }
        let mut group = Vec::new();
        let mut bytes = 0usize;
        let mut expected = None::<u64>;
        while let Some(op) = queue.ops.front() {
            let starts_new = match &op.kind {
                OpKind::Reset { .. } => true,
                // Only entries can truncate: a hard-state-only append (its index is ignored)
                // joins the group whatever index it names.
                OpKind::Append {
                    first_index, count, ..
                } if *count > 0 => {
                    let breaks = matches!(expected, Some(next) if *first_index != next);
                    expected = Some(first_index + *count as u64);
                    breaks
                }
                OpKind::Append { .. } => false,
            };
            if !group.is_empty() && (starts_new || bytes + op.bytes > self.shared.group_bytes_max) {
                break;
            }
            let op = queue.ops.pop_front().unwrap();
            queue.queued_bytes -= op.bytes;
            bytes += op.bytes;
            let is_reset = matches!(op.kind, OpKind::Reset { .. });
            group.push(op);
            if is_reset {
                break;
            }
        }
        Some(group)
    }

    fn write_group(&mut self, group: &[Op]) -> Result<()> {
        let mut encoded = self.encode_group(group)?;
        if encoded.buf.is_empty() {
            return Ok(());
        }
        self.maybe_roll(
            encoded.buf.len() as u64,
            encoded.first_new_index,
            &mut encoded.buf,
            &mut encoded.locs,
        )?;
        let (file, offset, seq) = {
            let state = self.shared.state.lock().unwrap();
            let active = state.active();
            (active.file.clone(), active.size, active.seq)
        };
        self.zero_ahead(&file, offset + encoded.buf.len() as u64)?;
        self.sync_write(&file, offset, &encoded.buf)?;
        self.record_durable(encoded, offset, seq);
        Ok(())
    }

    /// One group's records in one buffer. Resets run here (they are ordered with appends), and an
    /// append below the last index truncates the conflicting suffix first.
    fn encode_group(&mut self, group: &[Op]) -> Result<EncodedGroup> {
        let mut out = EncodedGroup {
            buf: Vec::with_capacity(group.iter().map(|op| op.bytes).sum::<usize>() + 64),
            locs: Vec::new(),
            hard_state: None,
            first_new_index: None,
        };
        for op in group {
            match &op.kind {
                OpKind::Reset { next_index } => self.reset(*next_index)?,
                OpKind::Append {
                    first_index,
                    packed,
                    hard_state: hs,
                    count,
                } => {
                    if *count > 0 {
                        let last = self.shared.state.lock().unwrap().last_index();
                        if *first_index <= last && out.first_new_index.is_none() {
                            self.truncate_suffix(*first_index)?;
                            let current = out
                                .hard_state
                                .unwrap_or(self.shared.state.lock().unwrap().hard_state);
                            // The truncated bytes may have held the newest hard state: rewrite it.
                            record::encode_hard_state(&mut out.buf, &current);
                        }
                        out.first_new_index.get_or_insert(*first_index);
                        append_entries(&mut out.buf, &mut out.locs, *first_index, packed);
                    }
                    if let Some(hs) = hs {
                        record::encode_hard_state(&mut out.buf, hs);
                        out.hard_state = Some(*hs);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The group is durable at `offset` of segment `seq`: readers may see its entries now.
    fn record_durable(&mut self, group: EncodedGroup, offset: u64, seq: u64) {
        crate::metrics::ENTRIES_PER_SYNC.observe(group.locs.len() as f64);
        crate::metrics::BYTES_TOTAL.inc_by(group.buf.len() as u64);
        self.stats
            .syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stats.entries.fetch_add(
            group.locs.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut state = self.shared.state.lock().unwrap();
        for (term, at, len) in group.locs {
            state.locs.push_back(Loc {
                term,
                segment_seq: seq,
                offset: offset + at,
                len,
            });
        }
        state.active_mut().size += group.buf.len() as u64;
        if let Some(hs) = group.hard_state {
            state.hard_state = hs;
        }
    }

    fn sync_write(&mut self, file: &fs::File, offset: u64, buf: &[u8]) -> Result<()> {
        let nth = self.syncs;
        self.syncs += 1;
        if self.faults.torn_write_at == Some(nth) {
            use std::os::unix::fs::FileExt;
            let _ = file.write_all_at(&buf[..buf.len() / 2], offset);
            eprintln!("wal: injected torn write at group {nth} (test fault); aborting");
            std::process::abort();
        }
        if self.faults.fail_sync_at == Some(nth) {
            use std::os::unix::fs::FileExt;
            let _ = file.write_all_at(buf, offset);
            return Err(WalError::FsyncFailed {
                message: "injected EIO (test fault)".into(),
            });
        }
        let started = std::time::Instant::now();
        self.injected_stall(started);
        let out =
            self.backend
                .write_and_sync(file, offset, buf)
                .map_err(|e| WalError::FsyncFailed {
                    message: format!("{} write+fdatasync: {e}", self.backend.name()),
                });
        crate::metrics::FSYNC_SECONDS.observe(started.elapsed().as_secs_f64());
        out
    }

    /// Makes the active segment's file reach past `end` with zeros written ahead of the log, so
    /// that most groups overwrite allocated blocks inside the file's length: their fdatasync
    /// then writes the data alone. A group that grows the file also makes fdatasync write the
    /// inode (on a journaled file system, commit the journal): p50 104–137 against 147–177 µs
    /// per serial write + fdatasync here (bench:storage's baselines), 267–316 against 670–857 µs
    /// on a journaled ext4. PostgreSQL zero-fills its WAL files for the same reason.
    /// The zeros are written to the page cache here; the group's own fdatasync makes them
    /// durable with its bytes. Recovery reads the zeros as the end of the log.
    fn zero_ahead(&mut self, file: &fs::File, end: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        // Only this thread changes `allocated`: the lock is not held across the write.
        let allocated = {
            let state = self.shared.state.lock().unwrap();
            let active = state.active();
            assert!(
                active.allocated >= active.size,
                "WAL segment allocated below its size"
            );
            active.allocated
        };
        if end <= allocated {
            return Ok(());
        }
        let target = end.max((allocated + ZERO_AHEAD_BYTES).min(self.shared.segment_bytes_max));
        if target > end {
            let zeros = vec![0u8; (target - end) as usize];
            file.write_all_at(&zeros, end)
                .map_err(|e| WalError::io("zero-fill segment", e))?;
        }
        self.shared.state.lock().unwrap().active_mut().allocated = target;
        Ok(())
    }

    /// Cuts the zeros past the active segment's log (before it is sealed, or at a clean close),
    /// so a sealed segment ends with its last record.
    fn trim_active(&mut self) -> Result<()> {
        let mut state = self.shared.state.lock().unwrap();
        let active = state.active_mut();
        if active.allocated == active.size {
            return Ok(());
        }
        let size = active.size;
        cut_segment(active, size, "trim segment")
    }

    /// Sleeps for the armed disk stall (test-only), as a slow device would before answering.
    fn injected_stall(&self, now: std::time::Instant) {
        let mut stall = self.shared.stall.lock().unwrap();
        match *stall {
            Some((delay, until)) if now < until => {
                drop(stall);
                std::thread::sleep(delay);
            }
            Some(_) => *stall = None,
            None => {}
        }
    }

    /// Starts a new segment when the group would overflow the active one. A segment that holds
    /// no entries yet always takes the group, so an oversize group cannot loop forever.
    fn maybe_roll(
        &mut self,
        group_bytes: u64,
        first_new_index: Option<u64>,
        buf: &mut Vec<u8>,
        locs: &mut [(u64, u64, u32)],
    ) -> Result<()> {
        let (needs_roll, next_seq, hs, next_index) = {
            let state = self.shared.state.lock().unwrap();
            let active = state.active();
            let has_entries = state
                .locs
                .back()
                .is_some_and(|l| l.segment_seq == active.seq);
            let next_index = first_new_index.unwrap_or(state.last_index() + 1);
            (
                has_entries && active.size + group_bytes > self.shared.segment_bytes_max,
                active.seq + 1,
                state.hard_state,
                next_index,
            )
        };
        if !needs_roll {
            return Ok(());
        }
        let mut prefix = Vec::with_capacity(64);
        prefix.extend_from_slice(segment::MAGIC);
        record::encode_hard_state(&mut prefix, &hs);
        for loc in locs.iter_mut() {
            loc.1 += prefix.len() as u64;
        }
        prefix.append(buf);
        *buf = prefix;
        // Trimmed and synced before the next segment exists: recovery never finds zeros after
        // the records of a sealed segment.
        self.trim_active()?;
        let path = self.shared.dir.join(segment::file_name(next_index));
        let file = segment::open_rw(&path, true)?;
        segment::sync_dir(&self.shared.dir)?;
        let mut state = self.shared.state.lock().unwrap();
        state.segments.push_back(Segment {
            seq: next_seq,
            first_index: next_index,
            path,
            file: Arc::new(file),
            size: 0,
            allocated: 0,
        });
        Ok(())
    }

    /// Raft conflict: drop entries `from..`. Later segments go first (and the directory is
    /// synced) so a crash can never leave a stale later segment beside a shortened one.
    fn truncate_suffix(&mut self, from: u64) -> Result<()> {
        let mut state = self.shared.state.lock().unwrap();
        let loc = state.loc(from).ok_or_else(|| WalError::Gap {
            message: format!(
                "cannot truncate from {from}: below the compacted prefix (first index {})",
                state.first_index
            ),
        })?;
        while state.active().seq > loc.segment_seq {
            let segment = state.segments.pop_back().unwrap();
            fs::remove_file(&segment.path).map_err(|e| WalError::io("remove segment", e))?;
        }
        segment::sync_dir(&self.shared.dir)?;
        cut_segment(state.active_mut(), loc.offset, "truncate segment")?;
        let keep = (from - state.first_index) as usize;
        state.locs.truncate(keep);
        Ok(())
    }

    /// Replaces the whole log with an empty one starting at `next_index`. The new segment is
    /// written under a temporary name first; recovery completes an interrupted reset.
    fn reset(&mut self, next_index: u64) -> Result<()> {
        let mut state = self.shared.state.lock().unwrap();
        let hs = state.hard_state;
        let next_seq = state.active().seq + 1;
        let tmp = self.shared.dir.join(reset_tmp_name(next_index));
        let file = write_fresh_segment(&tmp, &hs)?;
        segment::sync_dir(&self.shared.dir)?;
        finish_reset(&self.shared.dir, next_index)?;
        let path = self.shared.dir.join(segment::file_name(next_index));
        let size = file.metadata().map_err(|e| WalError::io("stat", e))?.len();
        state.segments.clear();
        state.segments.push_back(Segment {
            seq: next_seq,
            first_index: next_index,
            path,
            file: Arc::new(file),
            size,
            allocated: size,
        });
        state.locs.clear();
        state.first_index = next_index;
        Ok(())
    }
}

/// Shortens `segment`'s file to `len` bytes (its log, zeros ahead of it gone) and syncs that.
fn cut_segment(segment: &mut Segment, len: u64, what: &str) -> Result<()> {
    segment
        .file
        .set_len(len)
        .map_err(|e| WalError::io(what, e))?;
    segment
        .file
        .sync_data()
        .map_err(|e| WalError::FsyncFailed {
            message: format!("{what}: {e}"),
        })?;
    segment.size = len;
    segment.allocated = len;
    Ok(())
}

/// The reset segment's temporary name carries the index the log restarts at.
pub(crate) fn reset_tmp_name(next_index: u64) -> String {
    format!("reset-{next_index:020}.wal.tmp")
}

pub(crate) fn parse_reset_tmp_name(name: &str) -> Option<u64> {
    name.strip_prefix("reset-")?
        .strip_suffix(".wal.tmp")?
        .parse()
        .ok()
}

fn append_entries(
    buf: &mut Vec<u8>,
    locs: &mut Vec<(u64, u64, u32)>,
    first_index: u64,
    packed: &[u8],
) {
    let mut at = 0usize;
    let mut index = first_index;
    while at < packed.len() {
        let term = u64::from_le_bytes(packed[at..at + 8].try_into().unwrap());
        let len = u32::from_le_bytes(packed[at + 8..at + 12].try_into().unwrap()) as usize;
        let data = &packed[at + 12..at + 12 + len];
        let start = buf.len();
        record::encode_into(buf, record::KIND_ENTRY, index, term, data);
        locs.push((term, start as u64, (buf.len() - start) as u32));
        at += 12 + len;
        index += 1;
    }
}

pub(crate) fn write_fresh_segment(path: &Path, hs: &HardState) -> Result<fs::File> {
    use std::io::Write;
    let mut file = segment::open_rw(path, true)?;
    file.set_len(0)
        .map_err(|e| WalError::io("truncate new segment", e))?;
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(segment::MAGIC);
    record::encode_hard_state(&mut buf, hs);
    file.write_all(&buf)
        .map_err(|e| WalError::io("write new segment", e))?;
    file.sync_data().map_err(|e| WalError::FsyncFailed {
        message: format!("new segment: {e}"),
    })?;
    Ok(file)
}

/// Removes every segment and renames the reset segment into place.
pub(crate) fn finish_reset(dir: &Path, next_index: u64) -> Result<()> {
    for (_, path) in segment::list(dir)? {
        fs::remove_file(&path).map_err(|e| WalError::io("remove segment", e))?;
    }
    let target = dir.join(segment::file_name(next_index));
    fs::rename(dir.join(reset_tmp_name(next_index)), &target)
        .map_err(|e| WalError::io("rename reset segment", e))?;
    segment::sync_dir(dir)
}
