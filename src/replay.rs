//! Replay cursors for `ts/market/replay.ts`: one per session. 64-bit values cross as decimal
//! strings (exact, and a handful per call); records cross as packed buffers.

use market_crate::{Format, Replay, ReplayOptions, Step};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::coded;

#[napi(object)]
pub struct ReplayConfig {
    pub from_ts: String,
    pub to_ts: String,
    pub seq_limit: String,
    /// Resume after this position (`tsEvent` and `seq`, both or neither).
    pub resume_ts: Option<String>,
    pub resume_seq: Option<String>,
    /// Bit `1 << kind` per record kind written (delta 1, trade 2, quote 3).
    pub kinds_mask: u32,
    pub books: bool,
    pub depth: u32,
    pub snapshot_every_ns: String,
    /// `ndjson`, `sse` or `binary`.
    pub format: String,
    pub levels_max: u32,
    /// Each instrument's name as a JSON string, in source order.
    pub symbols_json: Vec<String>,
    /// Each producer's name as a JSON string, by producer id.
    pub producers_json: Vec<String>,
    /// Counts the session wrote before this cursor (after a seek).
    pub events_before: u32,
    pub snapshots_before: u32,
    /// The last seq written before this cursor (u64, decimal).
    pub seq_before: String,
}

#[napi(object)]
pub struct RenderResult {
    pub chunk: Buffer,
    /// `full`, `need` (push more of `source`), `due` (next at `dueTs`) or `done`.
    pub step: String,
    pub source: Option<u32>,
    pub due_ts: Option<String>,
}

pub(crate) fn u64_arg(name: &str, text: &str) -> Result<u64> {
    text.parse::<u64>().map_err(|_| {
        coded(
            "INVALID_ARGUMENT",
            format!("{name} must be a u64 as a decimal string, got {text:?}"),
        )
    })
}

fn options(c: &ReplayConfig) -> Result<ReplayOptions> {
    let format = match c.format.as_str() {
        "ndjson" => Format::Ndjson,
        "sse" => Format::Sse,
        "binary" => Format::Binary,
        other => {
            return Err(coded(
                "INVALID_ARGUMENT",
                format!("unknown format {other:?}"),
            ))
        }
    };
    let resume_after = match (&c.resume_ts, &c.resume_seq) {
        (Some(ts), Some(seq)) => Some((u64_arg("resumeTs", ts)?, u64_arg("resumeSeq", seq)?)),
        (None, None) => None,
        _ => {
            return Err(coded(
                "INVALID_ARGUMENT",
                "resumeTs and resumeSeq go together",
            ))
        }
    };
    if c.levels_max == 0 {
        return Err(coded("INVALID_ARGUMENT", "levelsMax must be positive"));
    }
    Ok(ReplayOptions {
        from_ts: u64_arg("fromTs", &c.from_ts)?,
        to_ts: u64_arg("toTs", &c.to_ts)?,
        seq_limit: u64_arg("seqLimit", &c.seq_limit)?,
        resume_after,
        kinds_mask: u8::try_from(c.kinds_mask)
            .map_err(|_| coded("INVALID_ARGUMENT", "kindsMask is one byte"))?,
        books: c.books,
        depth: c.depth as usize,
        snapshot_every_ns: u64_arg("snapshotEveryNs", &c.snapshot_every_ns)?,
        format,
        levels_max: c.levels_max as usize,
        events_before: u64::from(c.events_before),
        snapshots_before: u64::from(c.snapshots_before),
        seq_before: u64_arg("seqBefore", &c.seq_before)?,
    })
}

#[napi]
pub struct NativeReplay {
    replay: Replay,
    sources: usize,
    /// Rendered into, then copied out at its length: a Buffer handed to JavaScript counts as
    /// external memory at its capacity, and a fresh 256 KiB one per paced wake-up made V8
    /// collect garbage often enough to stall sessions.
    scratch: Vec<u8>,
}

#[napi]
impl NativeReplay {
    #[napi(constructor)]
    pub fn new(config: ReplayConfig) -> Result<NativeReplay> {
        let opts = options(&config)?;
        let sources = config.symbols_json.len();
        Ok(NativeReplay {
            replay: Replay::new(opts, config.symbols_json, config.producers_json),
            sources,
            scratch: Vec::new(),
        })
    }

    fn source(&self, i: u32) -> Result<usize> {
        let i = i as usize;
        if i >= self.sources {
            return Err(coded("INVALID_ARGUMENT", format!("no source {i}")));
        }
        Ok(i)
    }

    /// Starts source `i` from a stored book checkpoint.
    #[napi]
    pub fn load_book(&mut self, i: u32, encoded: &[u8]) -> Result<()> {
        let i = self.source(i)?;
        self.replay
            .load_book(i, encoded)
            .map_err(|e| coded(e.code(), e))
    }

    /// Appends stored records of source `i`; `end`: none follow.
    #[napi]
    pub fn push(&mut self, i: u32, packed: &[u8], end: bool) -> Result<()> {
        let i = self.source(i)?;
        self.replay
            .push(i, packed, end)
            .map_err(|e| coded(e.code(), e))
    }

    /// Sources not ended with fewer than `records` records buffered (to read ahead).
    #[napi]
    pub fn low_sources(&self, records: u32) -> Vec<u32> {
        self.replay
            .low_sources(records as usize)
            .into_iter()
            .map(|i| i as u32)
            .collect()
    }

    /// Output due by venue time `untilTs`, at most about `maxBytes` (one line may pass it).
    #[napi]
    pub fn render(&mut self, until_ts: String, max_bytes: u32) -> Result<RenderResult> {
        let until = u64_arg("untilTs", &until_ts)?;
        self.scratch.clear();
        let step = self
            .replay
            .render(until, max_bytes as usize, &mut self.scratch);
        let (step, source, due_ts) = match step {
            Step::Full => ("full", None, None),
            Step::Need(i) => ("need", Some(i as u32), None),
            Step::Due(ts) => ("due", None, Some(ts.to_string())),
            Step::Done => ("done", None, None),
        };
        Ok(RenderResult {
            chunk: self.scratch.as_slice().to_vec().into(),
            step: step.to_string(),
            source,
            due_ts,
        })
    }

    #[napi(getter)]
    pub fn events(&self) -> f64 {
        self.replay.events as f64
    }

    #[napi(getter)]
    pub fn snapshots(&self) -> f64 {
        self.replay.snapshots as f64
    }

    /// The position reached (the seq of the last record passed), as a decimal string.
    #[napi(getter)]
    pub fn last_seq(&self) -> String {
        self.replay.last_seq.to_string()
    }

    /// The venue time of that record, as a decimal string.
    #[napi(getter)]
    pub fn last_ts(&self) -> String {
        self.replay.last_ts.to_string()
    }
}
