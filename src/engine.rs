use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use engine_crate::read_cache::{compact_keys, read_into, Layout, ReadCache, Shape};
use engine_crate::{Compression, Engine, EngineOptions as CrateOptions};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::engine_scan::{scan_request, Count, Scan, ScanOptions, ScanResult};
use crate::engine_tasks::{
    Checkpoint, CompactAll, CompactRange, EngineSizes, Flush, LiveBytes, StateDigest, ViewDigest,
};
use crate::error::{coded, from_engine, index_arg};

#[napi(object)]
pub struct EngineOptions {
    /// LRU block cache in bytes (default 256 MiB).
    pub block_cache_bytes: Option<u32>,
    /// Bloom filter bits per key; 0 disables (default 10).
    pub bloom_bits_per_key: Option<f64>,
    /// "none", "lz4" (default; zstd at the bottommost level) or "zstd".
    pub compression: Option<String>,
    /// Memtable size in bytes (default 8 MiB: `engine::EngineOptions`).
    pub write_buffer_bytes: Option<u32>,
}

fn options_from(js: Option<EngineOptions>) -> Result<CrateOptions> {
    let mut opts = CrateOptions::default();
    let Some(js) = js else { return Ok(opts) };
    if let Some(v) = js.block_cache_bytes {
        opts.block_cache_bytes = v as usize;
    }
    if let Some(v) = js.bloom_bits_per_key {
        if !(0.0..=64.0).contains(&v) {
            return Err(coded(
                "ENGINE_INVALID_ARGUMENT",
                format!("bloomBitsPerKey must be within 0..=64, got {v}"),
            ));
        }
        opts.bloom_bits_per_key = v;
    }
    if let Some(v) = js.write_buffer_bytes {
        opts.write_buffer_bytes = v as usize;
    }
    opts.compression = match js.compression.as_deref() {
        None | Some("lz4") => Compression::Lz4,
        Some("zstd") => Compression::Zstd,
        Some("none") => Compression::None,
        Some(other) => {
            return Err(coded(
                "ENGINE_INVALID_ARGUMENT",
                format!("unknown compression {other:?}"),
            ))
        }
    };
    Ok(opts)
}

#[napi]
pub struct NativeEngine {
    engine: RwLock<Option<Arc<Engine>>>,
    /// The applied state's hottest values (only the JS thread uses it: the lock is uncontended).
    cache: Mutex<ReadCache>,
}

/// The longest key the API takes, in bytes (`KEY_BYTES_MAX` in ts/api/args.ts).
const KEY_BYTES_MAX: usize = 4096;

fn shape_arg(shape: u32) -> Result<Shape> {
    match shape {
        0 => Ok(Shape::Keyed),
        1 => Ok(Shape::Positional),
        other => Err(coded(
            "ENGINE_INVALID_ARGUMENT",
            format!("unknown item shape {other}"),
        )),
    }
}

/// A whole answer's layout: an item shape's `{"items":[…]}` (0, 1), or columns (2).
fn answer_arg(layout: u32) -> Result<(Shape, Layout)> {
    match layout {
        2 => Ok((Shape::Positional, Layout::Columns)),
        shape => Ok((shape_arg(shape)?, Layout::Answer)),
    }
}

#[napi]
impl NativeEngine {
    #[napi(factory)]
    pub fn open(path: String, options: Option<EngineOptions>) -> Result<NativeEngine> {
        let engine =
            Engine::open(&PathBuf::from(path), &options_from(options)?).map_err(from_engine)?;
        Ok(NativeEngine {
            engine: RwLock::new(Some(Arc::new(engine))),
            cache: Mutex::new(ReadCache::default()),
        })
    }

    /// Replaces `path` with a checkpoint's contents and opens it.
    #[napi(factory)]
    pub fn open_from_checkpoint(
        checkpoint: String,
        path: String,
        options: Option<EngineOptions>,
    ) -> Result<NativeEngine> {
        let engine = Engine::open_from_checkpoint(
            &PathBuf::from(checkpoint),
            &PathBuf::from(path),
            &options_from(options)?,
        )
        .map_err(from_engine)?;
        Ok(NativeEngine {
            engine: RwLock::new(Some(Arc::new(engine))),
            cache: Mutex::new(ReadCache::default()),
        })
    }

    fn get_engine(&self) -> Result<Arc<Engine>> {
        self.engine
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| coded("ENGINE_CLOSED", "engine is closed"))
    }

    #[napi]
    pub fn applied_index(&self) -> Result<i64> {
        Ok(self.get_engine()?.applied_index() as i64)
    }

    /// Applies a packed batch (`[op u8][keyLen u32][key]([valueLen u32][value])`) and the
    /// applied index in one WriteBatch; resolves to the number of operations.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn apply(&self, packed: &[u8], applied_index: i64) -> Result<AsyncTask<Apply>> {
        Ok(AsyncTask::new(Apply {
            engine: self.get_engine()?,
            packed: packed.to_vec(),
            applied_index: index_arg("appliedIndex", applied_index)?,
        }))
    }

    /// `apply` on the calling (JS) thread, for small batches: no thread-pool hop. A write
    /// RocksDB would stall, or one that would wait for a checkpoint being taken, is not made
    /// (`null`, nothing written): the caller uses `apply`.
    #[napi]
    pub fn apply_now(&self, packed: &[u8], applied_index: i64) -> Result<Option<u32>> {
        let engine = self.get_engine()?;
        let timer = crate::metrics::APPLY_SECONDS
            .with_label_values(&["kv"])
            .start_timer();
        let out = engine
            .apply_opt(packed, index_arg("appliedIndex", applied_index)?, true)
            .map_err(from_engine)?;
        if out.is_some() {
            timer.observe_duration();
        } else {
            timer.stop_and_discard();
        }
        Ok(out.map(|n| n as u32))
    }

    /// Every series the addon records (WAL, apply, RocksDB), as Prometheus text.
    #[napi]
    pub fn metrics_text(&self) -> Result<String> {
        crate::metrics::render(&*self.get_engine()?).map_err(|e| coded("ENGINE_METRICS", e))
    }

    #[napi]
    pub fn get(&self, key: &[u8]) -> Result<Option<Buffer>> {
        Ok(self
            .get_engine()?
            .get(key)
            .map_err(from_engine)?
            .map(Buffer::from))
    }

    /// A batch was published (the packed batch the engine wrote, as `apply` takes it): the read
    /// cache takes its writes. Called in the turn that moves the applied index.
    #[napi]
    pub fn cache_applied(&self, packed: &[u8]) -> Result<()> {
        self.cache
            .lock()
            .unwrap()
            .applied(packed)
            .map_err(from_engine)
    }

    /// The answer items of keys packed `[len u32][key]`... in `shape` (0 keyed, 1 positional),
    /// packed `[len i32 (-1: absent)][item]`...: from the read cache, misses from the engine.
    /// Null when a key misses and `engineAllowed` is false (a batch written, not yet published).
    #[napi]
    pub fn cache_items(
        &self,
        packed_keys: &[u8],
        shape: u32,
        engine_allowed: bool,
    ) -> Result<Option<Buffer>> {
        let keys = unpack_keys(packed_keys)?;
        self.read(&keys, shape_arg(shape)?, Layout::Packed, engine_allowed)
    }

    /// `cache_items` written into `out`, a buffer the caller reuses: the length written; null as
    /// `cache_items`; -1 (nothing written) when the items need more than `out` holds. A Buffer
    /// made here costs more than the read it carries (an external backing store with a GC
    /// finalizer: several µs per call against ~0.5 for the call itself), and single-key reads
    /// (`GET /v1/kv/{key}`) make one per request.
    #[napi]
    pub fn cache_items_into(
        &self,
        packed_keys: &[u8],
        shape: u32,
        engine_allowed: bool,
        mut out: BufferSlice<'_>,
    ) -> Result<Option<i64>> {
        let keys = unpack_keys(packed_keys)?;
        let Some(items) =
            self.read_vec(&keys, shape_arg(shape)?, Layout::Packed, engine_allowed)?
        else {
            return Ok(None);
        };
        if items.len() > out.len() {
            return Ok(Some(-1));
        }
        out[..items.len()].copy_from_slice(&items);
        Ok(Some(items.len() as i64))
    }

    /// The whole answer `{"items":[…]}` (or columns: `answer_arg`) for keys packed
    /// `[len u32][key]`... (the API's general multi-get path, keys already checked); null as
    /// `cache_items`.
    #[napi]
    pub fn cache_answer(
        &self,
        packed_keys: &[u8],
        shape: u32,
        engine_allowed: bool,
    ) -> Result<Option<Buffer>> {
        let keys = unpack_keys(packed_keys)?;
        let (shape, layout) = answer_arg(shape)?;
        self.read(&keys, shape, layout, engine_allowed)
    }

    /// The whole answer `{"items":[…]}` (or columns) to a multi-get body in the compact shape clients send.
    /// Null — the caller takes its general path — when the body has another shape, a key the API
    /// refuses (empty, over 4 KiB), or a key misses while `engineAllowed` is false.
    #[napi]
    pub fn cache_multi_get(
        &self,
        body: &[u8],
        shape: u32,
        engine_allowed: bool,
    ) -> Result<Option<Buffer>> {
        let Some(keys) = compact_keys(body) else {
            return Ok(None);
        };
        if keys.iter().any(|k| k.is_empty() || k.len() > KEY_BYTES_MAX) {
            return Ok(None);
        }
        let (shape, layout) = answer_arg(shape)?;
        self.read(&keys, shape, layout, engine_allowed)
    }

    fn read(
        &self,
        keys: &[&[u8]],
        shape: Shape,
        layout: Layout,
        engine_allowed: bool,
    ) -> Result<Option<Buffer>> {
        Ok(self
            .read_vec(keys, shape, layout, engine_allowed)?
            .map(Buffer::from))
    }

    fn read_vec(
        &self,
        keys: &[&[u8]],
        shape: Shape,
        layout: Layout,
        engine_allowed: bool,
    ) -> Result<Option<Vec<u8>>> {
        let engine = self.get_engine()?;
        let fetch = |keys: &[&[u8]]| engine.multi_get(keys);
        let mut cache = self.cache.lock().unwrap();
        read_into(
            &mut cache,
            keys,
            shape,
            layout,
            engine_allowed.then_some(&fetch as _),
        )
        .map_err(from_engine)
    }

    /// Keys packed `[len u32][key]`...; returns values packed `[len i32 (-1: missing)][value]`.
    #[napi]
    pub fn multi_get(&self, packed_keys: &[u8]) -> Result<Buffer> {
        let keys = unpack_keys(packed_keys)?;
        let values = self.get_engine()?.multi_get(&keys).map_err(from_engine)?;
        let mut out = Vec::with_capacity(
            values
                .iter()
                .map(|v| 4 + v.as_ref().map_or(0, Vec::len))
                .sum(),
        );
        for value in values {
            match value {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_le_bytes());
                    out.extend_from_slice(&v);
                }
                None => out.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        Ok(out.into())
    }

    #[napi(ts_return_type = "Promise<ScanResult>")]
    pub fn scan(&self, options: ScanOptions) -> Result<AsyncTask<Scan>> {
        Ok(AsyncTask::new(Scan {
            engine: self.get_engine()?,
            request: scan_request(options),
        }))
    }

    /// Counts the range's keys (ascending, after `after`), at most `limit` of them, off the JS thread.
    #[napi(ts_return_type = "Promise<CountResult>")]
    pub fn count(&self, options: ScanOptions) -> Result<AsyncTask<Count>> {
        Ok(AsyncTask::new(Count {
            engine: self.get_engine()?,
            request: scan_request(options),
        }))
    }

    /// `scan` on the calling thread: for the applier, which must see the keys of a range at
    /// the entry it applies (a range delete), with no later batch written meanwhile.
    #[napi]
    pub fn scan_now(&self, options: ScanOptions) -> Result<ScanResult> {
        let mut task = Scan {
            engine: self.get_engine()?,
            request: scan_request(options),
        };
        let (items, count, more) = task.compute()?;
        Ok(ScanResult {
            items: items.into(),
            count,
            more,
        })
    }

    /// Writes a checkpoint to `dir` (must not exist); resolves to its applied index.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn checkpoint(&self, dir: String) -> Result<AsyncTask<Checkpoint>> {
        Ok(AsyncTask::new(Checkpoint {
            engine: self.get_engine()?,
            dir: PathBuf::from(dir),
        }))
    }

    /// SHA-256 (hex) of the applied index and every key and value, and that index.
    #[napi(ts_return_type = "Promise<Digest>")]
    pub fn state_digest(&self) -> Result<AsyncTask<StateDigest>> {
        Ok(AsyncTask::new(StateDigest {
            engine: self.get_engine()?,
        }))
    }

    /// The digest of the state as of this call (its snapshot taken here, on the JS thread),
    /// computed off the JS thread while applies go on.
    #[napi(ts_return_type = "Promise<Digest>")]
    pub fn digest_now(&self) -> Result<AsyncTask<ViewDigest>> {
        Ok(AsyncTask::new(ViewDigest {
            view: Some(self.get_engine()?.view()),
        }))
    }

    /// Compacts the data keys in `[start, end)` (off the JS thread): space back after a purge.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact_range(&self, start: Buffer, end: Buffer) -> Result<AsyncTask<CompactRange>> {
        Ok(AsyncTask::new(CompactRange {
            engine: self.get_engine()?,
            start: start.to_vec(),
            end: end.to_vec(),
        }))
    }

    /// Compacts every key into the last level (off the JS thread): an operator's defrag.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact_all(&self) -> Result<AsyncTask<CompactAll>> {
        Ok(AsyncTask::new(CompactAll {
            engine: self.get_engine()?,
        }))
    }

    /// Bytes of the live SST files, RocksDB's estimate of the live data in them, the memtables.
    #[napi]
    pub fn sizes(&self) -> Result<EngineSizes> {
        let sizes = self.get_engine()?.sizes().map_err(from_engine)?;
        Ok(EngineSizes {
            live_sst_bytes: sizes.live_sst_bytes as f64,
            live_data_bytes: sizes.live_data_bytes as f64,
            memtable_bytes: sizes.memtable_bytes as f64,
        })
    }

    /// Bytes of every key and value (a full read, off the JS thread).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn live_bytes(&self) -> Result<AsyncTask<LiveBytes>> {
        Ok(AsyncTask::new(LiveBytes {
            engine: self.get_engine()?,
        }))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> Result<AsyncTask<Flush>> {
        Ok(AsyncTask::new(Flush {
            engine: self.get_engine()?,
        }))
    }

    /// Releases the database (once in-flight tasks finish with it).
    #[napi]
    pub fn close(&self) {
        self.engine.write().unwrap().take();
    }
}

fn unpack_keys(packed: &[u8]) -> Result<Vec<&[u8]>> {
    let mut keys = Vec::new();
    let mut at = 0usize;
    while at < packed.len() {
        if packed.len() - at < 4 {
            return Err(coded(
                "ENGINE_INVALID_ARGUMENT",
                "packed keys end inside a length",
            ));
        }
        let len = u32::from_le_bytes(packed[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        if packed.len() - at < len {
            return Err(coded(
                "ENGINE_INVALID_ARGUMENT",
                "packed key runs past the end",
            ));
        }
        keys.push(&packed[at..at + len]);
        at += len;
    }
    Ok(keys)
}

pub struct Apply {
    engine: Arc<Engine>,
    packed: Vec<u8>,
    applied_index: u64,
}

impl Task for Apply {
    type Output = u32;
    type JsValue = u32;
    fn compute(&mut self) -> Result<u32> {
        let timer = crate::metrics::APPLY_SECONDS
            .with_label_values(&["kv"])
            .start_timer();
        let out = self
            .engine
            .apply(&self.packed, self.applied_index)
            .map(|n| n as u32)
            .map_err(from_engine);
        timer.observe_duration();
        out
    }
    fn resolve(&mut self, _env: Env, output: u32) -> Result<u32> {
        Ok(output)
    }
}
