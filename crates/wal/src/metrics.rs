//! The log's Prometheus series, recorded on the I/O thread where the durations are measured
//! (never one napi crossing per sample). They live in the process-wide default registry, as
//! TiKV's do: a node process opens one log; tests that open several share the series.

use std::sync::LazyLock;

use prometheus::{
    exponential_buckets, register_histogram, register_int_counter, Histogram, IntCounter,
};

/// One write + fdatasync of a group (TiKV's buckets: 0.1 ms doubling to ~3.3 s).
pub static FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "quorumkv_wal_fsync_duration_seconds",
        "Time of one WAL group's write and fdatasync",
        exponential_buckets(0.0001, 2.0, 16).expect("static buckets")
    )
    .expect("metric registered once")
});

/// Entries made durable by one fdatasync (group commit's batching factor).
pub static ENTRIES_PER_SYNC: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "quorumkv_wal_entries_per_sync",
        "Log entries made durable by one fdatasync",
        exponential_buckets(1.0, 2.0, 14).expect("static buckets")
    )
    .expect("metric registered once")
});

pub static BYTES_TOTAL: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "quorumkv_wal_bytes_total",
        "Bytes written to the WAL (records and hard states)"
    )
    .expect("metric registered once")
});

/// Registers the series so a scrape lists them (at zero) before the first group.
pub fn touch() {
    LazyLock::force(&FSYNC_SECONDS);
    LazyLock::force(&ENTRIES_PER_SYNC);
    LazyLock::force(&BYTES_TOTAL);
}
