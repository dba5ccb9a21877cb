//! quorumkv's state machine: RocksDB with a `data` and a `meta` column family.
//!
//! Durability choice: RocksDB's own WAL is **disabled**. The Raft WAL is the durability source;
//! every apply writes its batch and the applied index in one WriteBatch, and `atomic_flush`
//! flushes both column families together, so whatever survives a crash is a consistent prefix:
//! the data as of some applied index, and that index. On restart the node replays the Raft log
//! after it. Writing RocksDB's WAL too would sync the same bytes twice.

mod batch;
pub mod batch_body;
mod error;
pub mod read_cache;
mod scan;

use std::path::Path;
use std::sync::{Arc, Mutex, TryLockError};

use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamilyDescriptor, CompactOptions,
    DBCompressionType, Env, IteratorMode, Options, ReadOptions, SnapshotWithThreadMode, WriteBatch,
    WriteOptions, DB,
};
use sha2::{Digest, Sha256};

pub use batch::{
    decode as decode_batch, encode_delete, encode_delete_range, encode_put, encode_uncache, Op,
};
pub use error::{EngineError, Result};

const CF_DATA: &str = "data";
/// Memtables per column family (the one being written and those waiting for their flush).
const MEMTABLES_MAX: i32 = 4;
const CF_META: &str = "meta";
const KEY_APPLIED_INDEX: &[u8] = b"applied_index";

/// The state as of one applied index (`Engine::view`), read later while applies go on: a
/// RocksDB snapshot, holding its engine open.
pub struct StateView {
    // Declared first: dropped before `engine`, whose database it borrows.
    snapshot: SnapshotWithThreadMode<'static, DB>,
    applied: u64,
    engine: Arc<Engine>,
}

impl StateView {
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    /// `Engine::state_digest` of the state as of the view.
    pub fn digest(&self) -> Result<[u8; 32]> {
        self.engine.digest_at(&self.snapshot, self.applied)
    }
}

/// A DB-wide count (each column family reports it; compared, never added up as a total).
const BACKGROUND_ERRORS: &str = "rocksdb.background-errors";

/// `Engine::sizes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub live_sst_bytes: u64,
    pub live_data_bytes: u64,
    pub memtable_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Shared LRU block cache. Default 256 MiB.
    pub block_cache_bytes: usize,
    /// Bloom filter bits per key (0 disables). Default 10 (~1% false positives).
    pub bloom_bits_per_key: f64,
    /// Compression for upper levels; the bottommost level always uses zstd unless `None`.
    pub compression: Compression,
    /// Memtable size. Default 8 MiB (up to 4 per column family: `MEMTABLES_MAX`).
    ///
    /// Why not larger: each write's memtable insert descends a skip list whose nodes miss the
    /// CPU caches once the table outgrows them (three nodes share this host's 32 MiB L3); at
    /// 64 MiB the descent was ~12% of a node's CPU under batched KV writes (`perf`), and 64 MiB
    /// lost to 16 MiB under 1,000 client callers (42.7 / 45.2 / 44.0K writes/s against 41.7 /
    /// 43.3 / 41.9K). 16 MiB against 8 MiB, on applies of 1,000 random 100-byte puts (a scratch
    /// test, CPU of all threads, flushes and compactions included, 2 runs each): 0.98-1.08
    /// against 0.75-0.89 CPU-µs per put over 10K keys, 1.12-1.20 against 1.01-1.05 over 1M keys;
    /// 4 MiB was cheaper still over 10K keys (0.68-0.73) but dearer over 1M (1.15-1.39). In a
    /// cluster under 1,000 client callers (3 alternating pairs): 73.2-78.5K / 57.7-62.3K /
    /// 75.4-75.7K writes/s at 8 MiB against 62.9-66.6K / 59.1-60.5K / 67.9-69.1K at 16 MiB;
    /// market-data ingest within the noise (binary 343-369K against 355-423K events/s).
    pub write_buffer_bytes: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            block_cache_bytes: 256 << 20,
            bloom_bits_per_key: 10.0,
            compression: Compression::Lz4,
            write_buffer_bytes: 8 << 20,
        }
    }
}

/// One page of a scan.
#[derive(Debug, Default)]
pub struct ScanPage {
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    /// More keys lie in the range after the last item.
    pub more: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Inclusive lower bound (ignored when `prefix` is set).
    pub start: Vec<u8>,
    /// Exclusive upper bound; `None` means the end of the keyspace.
    pub end: Option<Vec<u8>>,
    /// Only keys with this prefix.
    pub prefix: Option<Vec<u8>>,
    /// Resume after this key (exclusive), from a previous page's last key.
    pub after: Option<Vec<u8>>,
    pub limit: usize,
    /// At most this many bytes of values in a page (`None`: no bound); a page holds at least
    /// one item, however large. A reader that must not stall its thread on one large page
    /// (a paced replay) bounds its pages by bytes, since items vary in size.
    pub bytes_max: Option<usize>,
    /// Keys only: each item's value is left empty (a range delete needs no values; values may
    /// be large, keys are bounded).
    pub keys_only: bool,
    /// Descending key order: the page starts at the range's last key (or before `after`).
    pub reverse: bool,
    /// Each value cut to at most this many bytes (`None`: whole): what a caller needs of a
    /// value (the API's keys-only pages: the revision in its first 8 bytes), not a copy of it.
    pub value_prefix_bytes: Option<usize>,
}

/// How many keys a range holds, counted up to a bound.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RangeCount {
    pub count: u64,
    /// The bound was reached: more keys lie after `last`.
    pub more: bool,
    /// The last key counted (where a caller continues when `more`).
    pub last: Option<Vec<u8>>,
}

pub struct Engine {
    db: DB,
    /// Serializes applies and holds the applied index they advance.
    applied: Mutex<u64>,
}

impl Engine {
    pub fn open(path: &Path, options: &EngineOptions) -> Result<Engine> {
        let db_opts = db_options(options)?;
        let cf_opts = cf_options(options);
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_DATA, cf_opts.clone()),
            ColumnFamilyDescriptor::new(CF_META, cf_opts),
        ];
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        let applied = read_applied(&db)?;
        Ok(Engine {
            db,
            applied: Mutex::new(applied),
        })
    }

    /// Replaces `path` with the contents of a checkpoint (hard links where possible) and opens it.
    pub fn open_from_checkpoint(
        checkpoint: &Path,
        path: &Path,
        options: &EngineOptions,
    ) -> Result<Engine> {
        let io = |e: std::io::Error| {
            EngineError::Io(format!("restore checkpoint {}: {e}", checkpoint.display()))
        };
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(io)?;
        }
        std::fs::create_dir_all(path).map_err(io)?;
        for entry in std::fs::read_dir(checkpoint).map_err(io)? {
            let entry = entry.map_err(io)?;
            let target = path.join(entry.file_name());
            if std::fs::hard_link(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target).map_err(io)?;
            }
        }
        Engine::open(path, options)
    }

    pub fn applied_index(&self) -> u64 {
        *self.applied.lock().unwrap()
    }

    /// Applies a packed batch and records `applied_index` in the same WriteBatch.
    /// `applied_index` must move forward; a malformed batch writes nothing.
    pub fn apply(&self, packed: &[u8], applied_index: u64) -> Result<usize> {
        let written = self.apply_opt(packed, applied_index, false)?;
        Ok(written.expect("a write allowed to slow down is never refused as incomplete"))
    }

    /// `apply`, except with `no_slowdown` a write RocksDB would delay or stop (a write stall:
    /// too many L0 files or unflushed memtables), or one that would wait for a checkpoint in
    /// progress, is not made and `None` is returned, the applied index unchanged: a caller on
    /// a thread that must not block tries again where it may.
    pub fn apply_opt(
        &self,
        packed: &[u8],
        applied_index: u64,
        no_slowdown: bool,
    ) -> Result<Option<usize>> {
        let mut ops = batch::decode(packed)?;
        // Inserted in key order: the memtable's skip list reuses its last insert's position
        // (RocksDB's splice), so a sorted batch descends only the levels where neighbours differ,
        // where random order misses the caches at every level (perf: ~20% of a follower's CPU
        // under batched client writes sat on one load in that descent). The sort is stable: two
        // ops on one key keep their order, and so their sequence numbers and the last one wins.
        ops.sort_by(|a, b| a.key().cmp(b.key()));
        let mut applied = if no_slowdown {
            // A checkpoint holds this lock while RocksDB creates it: do not wait for it either.
            match self.applied.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Poisoned(e)) => panic!("the applied-index lock is poisoned: {e}"),
            }
        } else {
            self.applied.lock().unwrap()
        };
        if applied_index <= *applied {
            return Err(EngineError::ApplyOrder {
                current: *applied,
                requested: applied_index,
            });
        }
        let data = self.cf(CF_DATA);
        let mut wb = WriteBatch::default();
        for op in &ops {
            match op {
                Op::Put(k, v) => wb.put_cf(data, k, v),
                Op::Delete(k) => wb.delete_cf(data, k),
                Op::DeleteRange(start, end) => {
                    // An empty or inverted range is a caller's bug, not a no-op to hide.
                    if start >= end {
                        return Err(EngineError::InvalidArgument(
                            "a range delete's end must sort after its start".into(),
                        ));
                    }
                    wb.delete_range_cf(data, start, end)
                }
                Op::Uncache(_) => {}
            }
        }
        wb.put_cf(
            self.cf(CF_META),
            KEY_APPLIED_INDEX,
            applied_index.to_le_bytes(),
        );
        let mut options = write_options();
        options.set_no_slowdown(no_slowdown);
        match self.db.write_opt(wb, &options) {
            Err(e) if no_slowdown && e.kind() == rocksdb::ErrorKind::Incomplete => return Ok(None),
            other => other?,
        }
        *applied = applied_index;
        Ok(Some(ops.len()))
    }

    /// RocksDB's integer property `name` summed over the column families (e.g.
    /// `rocksdb.cur-size-all-mem-tables`); 0 where a family does not report it.
    pub fn property_sum(&self, name: &str) -> Result<u64> {
        let mut sum = 0u64;
        for cf in [CF_DATA, CF_META] {
            sum += self
                .db
                .property_int_value_cf(self.cf(cf), name)?
                .unwrap_or(0);
        }
        Ok(sum)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_DATA), key)?
            .map(|v| v.to_vec()))
    }

    /// Looks up many keys in one batched RocksDB call.
    pub fn multi_get(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let cf = self.cf(CF_DATA);
        self.db
            .batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .map(|r| r.map(|v| v.map(|p| p.to_vec())).map_err(EngineError::from))
            .collect()
    }

    /// Writes a consistent checkpoint (hard links on the same file system) to `dir`, which
    /// must not exist. Memtables are flushed first, so the checkpoint holds every applied write.
    ///
    /// Applies wait while the checkpoint is cut (it must match the applied index returned), so
    /// the memtables are flushed once before that, with applies going on: the flush under the
    /// lock then writes only what was applied meanwhile. (Flushing a full 64 MiB memtable under
    /// the lock held every apply for 100-130 ms once the store held a few million events.)
    pub fn checkpoint(&self, dir: &Path) -> Result<u64> {
        self.flush()?;
        let applied = self.applied.lock().unwrap();
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db)?;
        cp.create_checkpoint(dir)?;
        Ok(*applied)
    }

    /// SHA-256 over the applied index and every key and value of the data column family, in
    /// key order, from one RocksDB snapshot taken with the applied index (so the two agree):
    /// `applied u64 LE`, then per entry `[key len u32 LE][key][value len u32 LE][value]`.
    /// Two engines with the same state have the same digest, whatever their SST layout.
    pub fn state_digest(&self) -> Result<(u64, [u8; 32])> {
        let (snapshot, applied) = {
            let applied = self.applied.lock().unwrap();
            (self.db.snapshot(), *applied)
        };
        Ok((applied, self.digest_at(&snapshot, applied)?))
    }

    /// The state as of now, to be read later (`StateView::digest`) while applies go on.
    pub fn view(self: &Arc<Self>) -> StateView {
        let applied = self.applied.lock().unwrap();
        let snapshot = self.db.snapshot();
        // SAFETY: the snapshot borrows `self.db`, which lives as long as this Engine. The view
        // holds an Arc of the Engine (which never moves inside it) and drops the snapshot
        // first (fields drop in declaration order), so the borrow never outlives the database.
        let snapshot = unsafe {
            std::mem::transmute::<SnapshotWithThreadMode<'_, DB>, SnapshotWithThreadMode<'static, DB>>(
                snapshot,
            )
        };
        StateView {
            snapshot,
            applied: *applied,
            engine: Arc::clone(self),
        }
    }

    fn digest_at(
        &self,
        snapshot: &SnapshotWithThreadMode<'_, DB>,
        applied: u64,
    ) -> Result<[u8; 32]> {
        let mut hash = Sha256::new();
        hash.update(applied.to_le_bytes());
        let mut ro = ReadOptions::default();
        ro.set_snapshot(snapshot);
        ro.fill_cache(false);
        for item in self
            .db
            .iterator_cf_opt(self.cf(CF_DATA), ro, IteratorMode::Start)
        {
            let (k, v) = item?;
            hash.update((k.len() as u32).to_le_bytes());
            hash.update(&k);
            hash.update((v.len() as u32).to_le_bytes());
            hash.update(&v);
        }
        Ok(hash.finalize().into())
    }

    /// Flushes memtables so a restart replays less of the Raft log.
    pub fn flush(&self) -> Result<()> {
        self.db.flush_cfs_opt(
            &[self.cf(CF_DATA), self.cf(CF_META)],
            &rocksdb::FlushOptions::default(),
        )?;
        Ok(())
    }

    /// Compacts the data keys in `[start, end)` now, so the space of what range tombstones
    /// deleted there (a market-data purge) comes back without waiting for background compaction.
    pub fn compact_range(&self, start: &[u8], end: &[u8]) -> Result<()> {
        if start >= end {
            return Err(EngineError::InvalidArgument(
                "a compaction's end must sort after its start".into(),
            ));
        }
        self.db
            .compact_range_cf(self.cf(CF_DATA), Some(start), Some(end));
        Ok(())
    }

    /// Compacts every key of both column families into the last level now (an operator's
    /// defrag): what deletes, range deletes and overwrites left is dropped without waiting for
    /// background compaction, which may never reach a store that takes no more writes.
    /// Background compactions go on meanwhile (not exclusive), so writes are not stalled behind
    /// it. RocksDB reports a failed compaction only as a background error (the call returns
    /// nothing), so the error count is compared: a failure is the disk failing (ENGINE_IO).
    pub fn compact_all(&self) -> Result<()> {
        let errors_before = self.property_sum(BACKGROUND_ERRORS)?;
        let mut options = CompactOptions::default();
        options.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        options.set_exclusive_manual_compaction(false);
        for cf in [CF_DATA, CF_META] {
            self.db
                .compact_range_cf_opt(self.cf(cf), None::<&[u8]>, None::<&[u8]>, &options);
        }
        if self.property_sum(BACKGROUND_ERRORS)? > errors_before {
            return Err(EngineError::Io(
                "a compaction failed (RocksDB recorded a background error)".into(),
            ));
        }
        Ok(())
    }

    /// The engine's files: bytes of the SSTs the current version uses, RocksDB's estimate of the
    /// live data in them, and the memtables' bytes (what a flush writes).
    pub fn sizes(&self) -> Result<Sizes> {
        Ok(Sizes {
            live_sst_bytes: self.property_sum("rocksdb.live-sst-files-size")?,
            live_data_bytes: self.property_sum("rocksdb.estimate-live-data-size")?,
            memtable_bytes: self.property_sum("rocksdb.cur-size-all-mem-tables")?,
        })
    }

    /// Bytes of every key and value of both column families, read from one RocksDB snapshot:
    /// what a full compaction's output holds at most, before compression. (RocksDB's own
    /// estimate does not see range deletes: a store whose keys were all deleted by one was
    /// still estimated at the size of its files.) A full read: for a defrag, which reads it all
    /// anyway.
    pub fn live_bytes(&self) -> Result<u64> {
        let snapshot = self.db.snapshot();
        let mut sum = 0u64;
        for cf in [CF_DATA, CF_META] {
            let mut ro = ReadOptions::default();
            ro.set_snapshot(&snapshot);
            ro.fill_cache(false);
            for item in self
                .db
                .iterator_cf_opt(self.cf(cf), ro, IteratorMode::Start)
            {
                let (k, v) = item?;
                sum += (k.len() + v.len()) as u64;
            }
        }
        Ok(sum)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }
}

fn write_options() -> WriteOptions {
    let mut wo = WriteOptions::default();
    // See the module comment: the Raft WAL is the durability source.
    wo.disable_wal(true);
    wo
}

fn read_applied(db: &DB) -> Result<u64> {
    let meta = db.cf_handle(CF_META).expect("meta column family");
    match db.get_pinned_cf(meta, KEY_APPLIED_INDEX)? {
        None => Ok(0),
        Some(bytes) if bytes.len() == 8 => {
            Ok(u64::from_le_bytes(bytes.as_ref().try_into().unwrap()))
        }
        Some(_) => Err(EngineError::Corrupt("applied index is not 8 bytes".into())),
    }
}

fn db_options(options: &EngineOptions) -> Result<Options> {
    let mut opts = Options::default();
    // Compactions run at the lowest CPU priority (nice 19): a node shares its cores with its
    // event loop and WAL thread, and three nodes on one host compact at about the same time
    // (they snapshot at the same log index); the request path goes first, compaction catches
    // up in idle time. Flushes (the high-priority pool) keep normal priority: a slow flush
    // would stall writes once the memtables are full.
    let mut env = Env::new()?;
    env.lower_thread_pool_cpu_priority();
    opts.set_env(&env);
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Both column families flush together so data and applied index never disagree.
    opts.set_atomic_flush(true);
    opts.set_max_background_jobs(2);
    opts.set_write_buffer_size(options.write_buffer_bytes);
    Ok(opts)
}

fn cf_options(options: &EngineOptions) -> Options {
    let mut opts = Options::default();
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(options.block_cache_bytes));
    if options.bloom_bits_per_key > 0.0 {
        table.set_bloom_filter(options.bloom_bits_per_key, false);
        table.set_whole_key_filtering(true);
    }
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_size(options.write_buffer_bytes);
    // Smaller memtables fill faster: more of them may wait for their flush before writes stall.
    opts.set_max_write_buffer_number(MEMTABLES_MAX);
    let (upper, bottom) = match options.compression {
        Compression::None => (DBCompressionType::None, DBCompressionType::None),
        Compression::Lz4 => (DBCompressionType::Lz4, DBCompressionType::Zstd),
        Compression::Zstd => (DBCompressionType::Zstd, DBCompressionType::Zstd),
    };
    opts.set_compression_type(upper);
    opts.set_bottommost_compression_type(bottom);
    opts
}

/// The smallest key greater than every key with `prefix`; `None` when no such key exists.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that may not slow down is the same write when RocksDB is not stalling: data and
    /// applied index in one batch, and the applied index must still move forward. (Its refusal
    /// under a stall is RocksDB's `no_slowdown`; L0-file stalls cannot be provoked here, since
    /// RocksDB ignores them with compactions off.)
    #[test]
    fn a_write_that_may_not_slow_down_applies_like_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
        let mut packed = Vec::new();
        encode_put(&mut packed, b"k1", b"v1");
        encode_put(&mut packed, b"k2", b"v2");
        assert_eq!(engine.apply_opt(&packed, 7, true).unwrap(), Some(2));
        assert_eq!(engine.applied_index(), 7);
        assert_eq!(engine.get(b"k2").unwrap(), Some(b"v2".to_vec()));
        let err = engine.apply_opt(&packed, 7, true).unwrap_err();
        assert_eq!(err.code(), "ENGINE_APPLY_ORDER");
    }

    /// While a checkpoint holds the applied-index lock, a write that may not wait is refused
    /// (nothing written); the same write allowed to wait is made once the lock is free.
    #[test]
    fn a_write_that_may_not_wait_is_refused_while_a_checkpoint_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
        let mut packed = Vec::new();
        encode_put(&mut packed, b"k", b"v");
        {
            let _checkpointing = engine.applied.lock().unwrap();
            assert_eq!(engine.apply_opt(&packed, 1, true).unwrap(), None);
        }
        assert_eq!(engine.applied_index(), 0);
        assert_eq!(engine.get(b"k").unwrap(), None);
        assert_eq!(engine.apply(&packed, 1).unwrap(), 1);
        assert_eq!(engine.get(b"k").unwrap(), Some(b"v".to_vec()));
    }
}
