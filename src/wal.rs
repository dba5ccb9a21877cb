use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use wal_crate::{BackendChoice, Faults, HardState, Options, Wal};

use crate::error::{coded, from_wal, index_arg};

#[napi(object)]
pub struct WalOptions {
    /// Largest entry record in bytes (default 8 MiB).
    pub record_bytes_max: Option<u32>,
    /// Segment size before rolling to a new file (default 64 MiB).
    pub segment_bytes_max: Option<u32>,
    /// Most bytes in one write + fdatasync group (default 16 MiB).
    pub group_bytes_max: Option<u32>,
    /// Most bytes queued for the I/O thread before appends fail with WAL_LIMIT (default 256 MiB).
    pub queue_bytes_max: Option<u32>,
    /// "auto" (io_uring, falling back to pwrite), "io_uring" or "pwrite".
    pub backend: Option<String>,
    /// Test-only fault: the nth fdatasync (0-based) fails with EIO.
    pub fail_sync_at: Option<i64>,
    /// Test-only fault: the nth group is half written, then the process aborts.
    pub torn_write_at: Option<i64>,
    /// Test-only: allows `setSyncStall` (a disk-stall experiment).
    pub allow_stall: Option<bool>,
}

#[napi(object)]
pub struct WalHardState {
    pub term: i64,
    pub vote: i64,
    pub commit: i64,
}

/// Reported after each group: tickets up to `okThrough` are durable; with an error code,
/// every later ticket failed and the log accepts nothing more.
#[napi(object)]
pub struct DurableEvent {
    pub ok_through: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[napi(object)]
pub struct WalInfo {
    pub backend: String,
    pub fallback_reason: Option<String>,
    pub recovered_segments: u32,
    pub recovered_entries: i64,
    pub truncated_bytes: i64,
}

#[napi(object)]
pub struct WalStats {
    pub syncs: i64,
    pub entries: i64,
}

#[napi]
pub struct NativeWal {
    wal: Arc<Wal>,
}

fn options_from(js: Option<WalOptions>) -> Result<Options> {
    let mut opts = Options::default();
    let Some(js) = js else { return Ok(opts) };
    if let Some(v) = js.record_bytes_max {
        opts.record_bytes_max = v as usize;
    }
    if let Some(v) = js.segment_bytes_max {
        opts.segment_bytes_max = v as u64;
    }
    if let Some(v) = js.group_bytes_max {
        opts.group_bytes_max = v as usize;
    }
    if let Some(v) = js.queue_bytes_max {
        opts.queue_bytes_max = v as usize;
    }
    opts.backend = match js.backend.as_deref() {
        None | Some("auto") => BackendChoice::Auto,
        Some("io_uring") => BackendChoice::Uring,
        Some("pwrite") => BackendChoice::Pwrite,
        Some(other) => {
            return Err(coded(
                "WAL_INVALID_ARGUMENT",
                format!("unknown backend {other:?}"),
            ))
        }
    };
    opts.faults = Faults {
        fail_sync_at: js
            .fail_sync_at
            .map(|n| index_arg("failSyncAt", n))
            .transpose()?,
        torn_write_at: js
            .torn_write_at
            .map(|n| index_arg("tornWriteAt", n))
            .transpose()?,
        allow_stall: js.allow_stall.unwrap_or(false),
    };
    Ok(opts)
}

fn hard_state_from(js: &WalHardState) -> Result<HardState> {
    Ok(HardState {
        term: index_arg("term", js.term)?,
        vote: index_arg("vote", js.vote)?,
        commit: index_arg("commit", js.commit)?,
    })
}

#[napi]
impl NativeWal {
    /// Opens the log in `dir`, verifying every record; `onDurable` is called once per group.
    #[napi(factory)]
    pub fn open(
        dir: String,
        options: Option<WalOptions>,
        on_durable: ThreadsafeFunction<DurableEvent>,
    ) -> Result<NativeWal> {
        let opts = options_from(options)?;
        let notify: wal_crate::Notify = Box::new(move |ok_through, error| {
            let event = DurableEvent {
                ok_through: ok_through as i64,
                error_code: error.map(|e| e.code().to_string()),
                error_message: error.map(|e| e.to_string()),
            };
            tsfn_call(&on_durable, event);
        });
        let wal = Wal::open(&PathBuf::from(dir), opts, Some(notify)).map_err(from_wal)?;
        Ok(NativeWal { wal: Arc::new(wal) })
    }

    #[napi]
    pub fn info(&self) -> WalInfo {
        let rec = self.wal.recovery();
        WalInfo {
            backend: self.wal.backend().to_string(),
            fallback_reason: self.wal.backend_fallback_reason().map(str::to_string),
            recovered_segments: rec.segments as u32,
            recovered_entries: rec.entries as i64,
            truncated_bytes: rec.truncated_bytes as i64,
        }
    }

    #[napi]
    pub fn stats(&self) -> WalStats {
        let s = self.wal.stats();
        WalStats {
            syncs: s.syncs as i64,
            entries: s.entries as i64,
        }
    }

    /// Queues entries `firstIndex..` (packed `[term u64][len u32][data]`) and/or a hard state;
    /// returns the ticket that `onDurable` will report.
    #[napi]
    pub fn append(
        &self,
        first_index: i64,
        packed: &[u8],
        hard_state: Option<WalHardState>,
    ) -> Result<i64> {
        let hs = hard_state.as_ref().map(hard_state_from).transpose()?;
        let first = index_arg("firstIndex", first_index)?;
        self.wal
            .append(first, packed.to_vec(), hs)
            .map(|t| t as i64)
            .map_err(from_wal)
    }

    /// Drops the whole log; the next entry will be `nextIndex`. Returns a ticket.
    #[napi]
    pub fn reset(&self, next_index: i64) -> Result<i64> {
        self.wal
            .reset(index_arg("nextIndex", next_index)?)
            .map(|t| t as i64)
            .map_err(from_wal)
    }

    #[napi]
    pub fn first_index(&self) -> i64 {
        self.wal.first_index() as i64
    }

    #[napi]
    pub fn last_index(&self) -> i64 {
        self.wal.last_index() as i64
    }

    #[napi]
    pub fn term(&self, index: i64) -> Result<Option<i64>> {
        Ok(self.wal.term(index_arg("index", index)?).map(|t| t as i64))
    }

    #[napi]
    pub fn hard_state(&self) -> WalHardState {
        let hs = self.wal.hard_state();
        WalHardState {
            term: hs.term as i64,
            vote: hs.vote as i64,
            commit: hs.commit as i64,
        }
    }

    /// Durable entries in [lo, hi), packed, up to `bytesMax` (at least one entry).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn entries(&self, lo: i64, hi: i64, bytes_max: u32) -> Result<AsyncTask<ReadEntries>> {
        Ok(AsyncTask::new(ReadEntries {
            wal: self.wal.clone(),
            lo: index_arg("lo", lo)?,
            hi: index_arg("hi", hi)?,
            bytes_max: bytes_max as usize,
        }))
    }

    /// Drops whole segments whose entries are all <= index; resolves to the new first index.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn compact(&self, index: i64) -> Result<AsyncTask<Compact>> {
        Ok(AsyncTask::new(Compact {
            wal: self.wal.clone(),
            index: index_arg("index", index)?,
        }))
    }

    /// Test-only: every fdatasync takes `delayMs` longer for the next `durationMs`.
    #[napi]
    pub fn set_sync_stall(&self, delay_ms: u32, duration_ms: u32) -> Result<()> {
        let ms = |v: u32| std::time::Duration::from_millis(u64::from(v));
        self.wal
            .set_sync_stall(ms(delay_ms), ms(duration_ms))
            .map_err(from_wal)
    }

    /// Finishes queued work, stops the I/O thread and releases the callback.
    #[napi]
    pub fn close(&self) {
        self.wal.close();
    }
}

fn tsfn_call(tsfn: &ThreadsafeFunction<DurableEvent>, event: DurableEvent) {
    // NonBlocking: the queue is unbounded (0), so this only fails once the function is released.
    let _ = tsfn.call(Ok(event), ThreadsafeFunctionCallMode::NonBlocking);
}

pub struct ReadEntries {
    wal: Arc<Wal>,
    lo: u64,
    hi: u64,
    bytes_max: usize,
}

impl Task for ReadEntries {
    type Output = Vec<u8>;
    type JsValue = Buffer;

    fn compute(&mut self) -> Result<Self::Output> {
        self.wal
            .entries(self.lo, self.hi, self.bytes_max)
            .map(|(packed, _)| packed)
            .map_err(from_wal)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into())
    }
}

pub struct Compact {
    wal: Arc<Wal>,
    index: u64,
}

impl Task for Compact {
    type Output = u64;
    type JsValue = i64;

    fn compute(&mut self) -> Result<Self::Output> {
        self.wal.compact(self.index).map_err(from_wal)
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output as i64)
    }
}
