//! Series measured inside the addon and the one call that renders them all: a scrape crosses
//! napi once (`NativeEngine.metricsText`), whatever the number of samples recorded.

use std::sync::LazyLock;

use engine_crate::Engine;
use prometheus::{
    exponential_buckets, register_histogram_vec, register_int_gauge_vec, Encoder, HistogramVec,
    IntGaugeVec, TextEncoder,
};

/// Time to apply one committed batch to a state machine (`machine`: kv or market).
pub static APPLY_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "quorumkv_apply_duration_seconds",
        "Time to apply one committed batch to a state machine",
        &["machine"],
        exponential_buckets(0.00005, 2.0, 16).expect("static buckets")
    )
    .expect("metric registered once")
});

static ROCKSDB: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "quorumkv_rocksdb_property",
        "RocksDB integer properties summed over column families, read at scrape time",
        &["name"]
    )
    .expect("metric registered once")
});

/// The properties a scrape reads: memory, compaction debt, write stalls and files (SST bytes
/// against the live data in them: what a defrag would give back).
const PROPERTIES: [(&str, &str); 7] = [
    ("memtable_bytes", "rocksdb.cur-size-all-mem-tables"),
    (
        "pending_compaction_bytes",
        "rocksdb.estimate-pending-compaction-bytes",
    ),
    ("running_compactions", "rocksdb.num-running-compactions"),
    ("write_stopped", "rocksdb.is-write-stopped"),
    ("delayed_write_rate", "rocksdb.actual-delayed-write-rate"),
    ("live_sst_bytes", "rocksdb.live-sst-files-size"),
    ("live_data_bytes", "rocksdb.estimate-live-data-size"),
];

/// Refreshes the RocksDB gauges and renders every registered series (WAL, apply, RocksDB).
pub fn render(engine: &Engine) -> Result<String, String> {
    for (label, property) in PROPERTIES {
        let value = engine.property_sum(property).map_err(|e| e.to_string())?;
        ROCKSDB
            .with_label_values(&[label])
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    LazyLock::force(&APPLY_SECONDS);
    wal_crate::metrics::touch();
    let mut out = Vec::with_capacity(16 << 10);
    TextEncoder::new()
        .encode(&prometheus::gather(), &mut out)
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}
