//! A replay cursor: the stored events of chosen instruments merged into one deterministic
//! order — `(tsEvent, seq)` — applied to scratch books and written out as lines (NDJSON or SSE)
//! or binary frames, with book snapshots either after every book change or at every
//! `snapshot_every_ns` of venue time.
//!
//! The caller feeds each instrument's stored records in seq order (`push`), starting from a book
//! checkpoint (`load_book`), and asks for output up to a venue time (`render`); the cursor says
//! when it needs more of an instrument's records before it can go on (`Step::Need`). Records
//! before `from_ts` (or at or before the resume position) are applied silently: a replay that
//! starts mid-day or resumes shows exactly the books it would have shown.
//!
//! Invariants: an instrument's records arrive and leave in seq order; output never shows half of
//! an F_LAST event in a book; the same records and options give the same bytes. An instrument's
//! venue times are expected not to go backwards (one venue clock): where they do, the merge is
//! still deterministic, but the output is only ordered by `(tsEvent, seq)` where they do not, and
//! the first record at or past `to` ends the instrument.
//!
//! Binary frames: `type u8 | len u32 LE | payload` — 1 an event (its 96-byte record), 2 a book
//! (its JSON), 3 the done line (JSON); the caller writes type 0 (a JSON header) first.

use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;

use crate::book::Book;
use crate::error::{MarketError, Result};
use crate::record::{Delta, DELTA_BYTES, F_LAST, KIND_DELTA};
use crate::render::{push_u64, write_event_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Sse,
    Binary,
}

pub const FRAME_EVENT: u8 = 1;
pub const FRAME_BOOK: u8 = 2;
pub const FRAME_DONE: u8 = 3;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub from_ts: u64,
    /// Exclusive.
    pub to_ts: u64,
    /// Records with a higher seq are not part of the replay (the cut taken when it opened).
    pub seq_limit: u64,
    /// Resume after this `(tsEvent, seq)` position: earlier records are applied silently, and
    /// no opening snapshots are written (the client has them).
    pub resume_after: Option<(u64, u64)>,
    /// Bit `1 << kind` for each record kind written (delta 1, trade 2, quote 3).
    pub kinds_mask: u8,
    /// Whether book snapshots are written.
    pub books: bool,
    pub depth: usize,
    /// 0: a snapshot of an instrument's book after each of its F_LAST deltas.
    pub snapshot_every_ns: u64,
    pub format: Format,
    pub levels_max: usize,
    /// Counts already written by this session before this cursor (a seek opens a new cursor),
    /// so the done line counts the whole session.
    pub events_before: u64,
    pub snapshots_before: u64,
    /// The last seq the session wrote (or resumed after) before this cursor: the done line's
    /// seq if this cursor writes no event, so a resume token never goes back.
    pub seq_before: u64,
}

/// Why `render` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The output reached the byte limit asked for.
    Full,
    /// Source `i` has no buffered records and is not ended: push more of it.
    Need(usize),
    /// Everything due by the venue time asked for is out; the next is due at this venue time.
    Due(u64),
    /// Every record was written, and the done line.
    Done,
}

struct Source {
    symbol_json: String,
    /// Whole records, oldest first.
    records: VecDeque<[u8; DELTA_BYTES]>,
    ended: bool,
    book: Option<Book>,
    /// Records at or below this seq are already in the loaded book.
    floor_seq: u64,
    /// Inside a venue event (a delta without F_LAST was applied): no snapshot now.
    in_event: bool,
    /// A periodic snapshot waits for the end of the current event.
    snapshot_deferred: bool,
}

pub struct Replay {
    opts: ReplayOptions,
    sources: Vec<Source>,
    /// Each producer's name as a JSON string, by producer id (the records' producer field).
    /// Invariant: every buffered record's producer is in it (`push` refuses others).
    producers_json: Vec<String>,
    /// `(tsEvent, seq, source)` of each source's first buffered record, smallest first.
    /// Invariant: a source has an entry iff it has buffered records.
    heads: BinaryHeap<std::cmp::Reverse<(u64, u64, usize)>>,
    /// Sources ended with nothing buffered. A source is starved (the merge must wait for it)
    /// iff it is in neither set, so `heads.len() + exhausted < sources` says one is, without a
    /// scan per record.
    exhausted: usize,
    opening_snapshots: bool,
    next_boundary_ts: Option<u64>,
    pub events: u64,
    pub snapshots: u64,
    /// The position reached: the seq and venue time of the last record passed (written or
    /// filtered out).
    pub last_seq: u64,
    pub last_ts: u64,
    done: bool,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl Replay {
    /// A cursor over the instruments named by `symbols_json` (each a JSON string), in this order;
    /// `producers_json`: each producer's name as a JSON string, by id.
    pub fn new(
        opts: ReplayOptions,
        symbols_json: Vec<String>,
        producers_json: Vec<String>,
    ) -> Replay {
        assert!(opts.levels_max > 0, "levels_max must be positive");
        let resume_ts = opts.resume_after.map(|(ts, _)| ts);
        let next_boundary_ts = first_boundary(&opts, resume_ts);
        let sources = symbols_json
            .into_iter()
            .map(|symbol_json| Source {
                symbol_json,
                records: VecDeque::new(),
                ended: false,
                book: None,
                floor_seq: 0,
                in_event: false,
                snapshot_deferred: false,
            })
            .collect();
        Replay {
            events: opts.events_before,
            snapshots: opts.snapshots_before,
            opening_snapshots: opts.books && opts.resume_after.is_none(),
            last_seq: opts.seq_before,
            opts,
            sources,
            producers_json,
            heads: BinaryHeap::new(),
            exhausted: 0,
            next_boundary_ts,
            last_ts: 0,
            done: false,
        }
    }

    /// Starts source `i` from a stored book checkpoint (its later records follow by `push`).
    pub fn load_book(&mut self, i: usize, encoded: &[u8]) -> Result<()> {
        let book = Book::decode(encoded)?;
        let source = &mut self.sources[i];
        assert!(
            source.records.is_empty(),
            "a book is loaded before any record"
        );
        source.floor_seq = book.seq;
        source.book = Some(book);
        Ok(())
    }

    /// Appends stored records of source `i` (whole, in seq order); `end`: nothing follows.
    /// Records past the replay's end (`to_ts`, `seq_limit`) end the source.
    pub fn push(&mut self, i: usize, packed: &[u8], end: bool) -> Result<()> {
        if !packed.len().is_multiple_of(DELTA_BYTES) {
            return Err(MarketError::Invalid(format!(
                "stored records are whole {DELTA_BYTES}-byte records, got {} bytes",
                packed.len()
            )));
        }
        let was_empty = self.sources[i].records.is_empty();
        let was_exhausted = self.is_exhausted(i);
        for chunk in packed.chunks_exact(DELTA_BYTES) {
            let source = &mut self.sources[i];
            if source.ended {
                break;
            }
            let d = Delta::decode(chunk)?;
            let producer = u32_at(chunk, 80) as usize;
            if producer >= self.producers_json.len() {
                return Err(MarketError::Invalid(format!(
                    "record {} names producer {producer}, outside the table of {}",
                    d.seq,
                    self.producers_json.len()
                )));
            }
            if d.seq <= source.floor_seq {
                continue;
            }
            if d.ts_event >= self.opts.to_ts || d.seq > self.opts.seq_limit {
                source.ended = true;
                break;
            }
            source
                .records
                .push_back(chunk.try_into().expect("a whole record"));
        }
        let source = &mut self.sources[i];
        source.ended |= end;
        if was_empty {
            if let Some(r) = source.records.front() {
                self.heads
                    .push(std::cmp::Reverse((u64_at(r, 48), u64_at(r, 72), i)));
            }
        }
        if !was_exhausted && self.is_exhausted(i) {
            self.exhausted += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self, i: usize) -> bool {
        self.sources[i].ended && self.sources[i].records.is_empty()
    }

    /// Sources not ended with fewer than `records` buffered: worth reading ahead.
    pub fn low_sources(&self, records: usize) -> Vec<usize> {
        (0..self.sources.len())
            .filter(|&i| !self.sources[i].ended && self.sources[i].records.len() < records)
            .collect()
    }

    fn starved(&self) -> Option<usize> {
        if self.heads.len() + self.exhausted == self.sources.len() {
            return None;
        }
        let i = self
            .sources
            .iter()
            .position(|s| s.records.is_empty() && !s.ended);
        debug_assert!(i.is_some(), "the counts say a source is starved");
        i
    }

    fn silent(&self, ts: u64, seq: u64) -> bool {
        ts < self.opts.from_ts || self.opts.resume_after.is_some_and(|r| (ts, seq) <= r)
    }

    /// Writes into `out` everything due by venue time `until_ts`, until `out` holds `max_bytes`.
    pub fn render(&mut self, until_ts: u64, max_bytes: usize, out: &mut Vec<u8>) -> Step {
        loop {
            if self.done {
                return Step::Done;
            }
            if out.len() >= max_bytes {
                return Step::Full;
            }
            if let Some(i) = self.starved() {
                return Step::Need(i);
            }
            let head = self.heads.peek().map(|h| h.0);
            let silent = head.is_some_and(|(ts, seq, _)| self.silent(ts, seq));
            if self.opening_snapshots && !silent {
                self.opening_snapshots = false;
                for i in 0..self.sources.len() {
                    self.snapshot_or_defer(i, out);
                }
                continue;
            }
            let Some((ts, seq, i)) = head else {
                // Paced, the session lasts until `to` (a range of venue time takes its time).
                if self.opts.to_ts != u64::MAX && until_ts < self.opts.to_ts {
                    return Step::Due(self.opts.to_ts);
                }
                self.finish(out);
                return Step::Done;
            };
            if !silent {
                if let Some(b) = self.next_boundary_ts.filter(|&b| b <= ts) {
                    if b > until_ts {
                        return Step::Due(b);
                    }
                    self.boundary(b, out);
                    continue;
                }
                if ts > until_ts {
                    return Step::Due(ts);
                }
            }
            self.heads.pop();
            self.take(i, ts, seq, silent, out);
        }
    }

    /// Applies and (unless silent) writes the first buffered record of source `i`.
    fn take(&mut self, i: usize, ts: u64, seq: u64, silent: bool, out: &mut Vec<u8>) {
        let source = &mut self.sources[i];
        let record = source.records.pop_front().expect("a head has a record");
        debug_assert_eq!(u64_at(&record, 72), seq);
        if let Some(next) = source.records.front() {
            // Venue times that go backwards (user data: e.g. two feeds of one instrument) are
            // not an error: the instrument's records still come in seq order, deterministically.
            self.heads
                .push(std::cmp::Reverse((u64_at(next, 48), u64_at(next, 72), i)));
        } else if source.ended {
            self.exhausted += 1;
        }
        let d = Delta::decode(&record).expect("pushed records were decoded");
        // Every record moves its book's seq and time (as the live books do); deltas its levels.
        source
            .book
            .get_or_insert_with(Book::default)
            .apply(&d, self.opts.levels_max);
        if d.kind == KIND_DELTA {
            source.in_event = d.flags & F_LAST == 0;
        }
        if silent {
            return;
        }
        self.last_seq = seq;
        self.last_ts = ts;
        if self.opts.kinds_mask & (1 << d.kind) != 0 {
            self.events += 1;
            self.write_event(i, &record, out);
        }
        let source = &self.sources[i];
        let changed = d.kind == KIND_DELTA && !source.in_event;
        let on_change = changed && self.opts.books && self.opts.snapshot_every_ns == 0;
        if on_change || (!source.in_event && source.snapshot_deferred) {
            self.sources[i].snapshot_deferred = false;
            self.write_book(i, out);
        }
    }

    /// A periodic snapshot of every book at venue time `b` (deferred while a book is mid-event).
    fn boundary(&mut self, b: u64, out: &mut Vec<u8>) {
        for i in 0..self.sources.len() {
            self.snapshot_or_defer(i, out);
        }
        let next = b + self.opts.snapshot_every_ns;
        self.next_boundary_ts = (next < self.opts.to_ts).then_some(next);
    }

    fn snapshot_or_defer(&mut self, i: usize, out: &mut Vec<u8>) {
        let source = &mut self.sources[i];
        if source.book.is_none() {
            return;
        }
        if source.in_event {
            source.snapshot_deferred = true;
        } else {
            self.write_book(i, out);
        }
    }

    fn write_event(&self, i: usize, record: &[u8], out: &mut Vec<u8>) {
        let symbol = &self.sources[i].symbol_json;
        let producer = &self.producers_json[u32_at(record, 80) as usize];
        match self.opts.format {
            Format::Binary => {
                frame_header(out, FRAME_EVENT, DELTA_BYTES);
                out.extend_from_slice(record);
            }
            Format::Ndjson => {
                write_event_json(out, record, symbol, producer);
                out.push(b'\n');
            }
            Format::Sse => {
                out.extend_from_slice(b"id: ");
                push_u64(out, u64_at(record, 72));
                out.extend_from_slice(b"\ndata: ");
                write_event_json(out, record, symbol, producer);
                out.extend_from_slice(b"\n\n");
            }
        }
    }

    fn write_book(&mut self, i: usize, out: &mut Vec<u8>) {
        let source = &self.sources[i];
        let Some(book) = &source.book else { return };
        self.snapshots += 1;
        const OPEN: &[u8] = br#"{"kind":"book","#;
        match self.opts.format {
            Format::Ndjson => {
                book.write_view_json(out, OPEN, &source.symbol_json, self.opts.depth);
                out.push(b'\n');
            }
            Format::Sse => {
                out.extend_from_slice(b"data: ");
                book.write_view_json(out, OPEN, &source.symbol_json, self.opts.depth);
                out.extend_from_slice(b"\n\n");
            }
            Format::Binary => {
                let at = out.len();
                frame_header(out, FRAME_BOOK, 0);
                book.write_view_json(out, OPEN, &source.symbol_json, self.opts.depth);
                let len = u32::try_from(out.len() - at - 5).expect("a frame fits u32");
                out[at + 1..at + 5].copy_from_slice(&len.to_le_bytes());
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let line = format!(
            r#"{{"kind":"done","events":{},"snapshots":{},"seq":"{}"}}"#,
            self.events, self.snapshots, self.last_seq
        );
        self.write_line(FRAME_DONE, &line, out);
        self.done = true;
    }

    fn write_line(&self, frame: u8, json: &str, out: &mut Vec<u8>) {
        match self.opts.format {
            Format::Binary => {
                frame_header(out, frame, json.len());
                out.extend_from_slice(json.as_bytes());
            }
            Format::Ndjson => {
                out.extend_from_slice(json.as_bytes());
                out.push(b'\n');
            }
            Format::Sse => {
                write!(out, "data: {json}\n\n").expect("Vec writes");
            }
        }
    }
}

fn frame_header(out: &mut Vec<u8>, frame: u8, len: usize) {
    out.push(frame);
    out.extend_from_slice(&u32::try_from(len).expect("a frame fits u32").to_le_bytes());
}

/// The first periodic snapshot time after `from_ts` (and after a resume position).
fn first_boundary(opts: &ReplayOptions, resume_ts: Option<u64>) -> Option<u64> {
    let every = opts.snapshot_every_ns;
    if every == 0 || !opts.books {
        return None;
    }
    let after = resume_ts.unwrap_or(opts.from_ts).max(opts.from_ts);
    let k = (after - opts.from_ts) / every + 1;
    let b = opts.from_ts.checked_add(k.checked_mul(every)?)?;
    (b < opts.to_ts).then_some(b)
}
