//! The thin napi-rs binding: converts arguments and calls `crates/wal`, `crates/engine`,
//! `crates/market` and `crates/compress`.
//! Blocking work runs off the JS thread: WAL appends complete on the WAL's own I/O thread
//! (reported through one threadsafe callback per group), engine writes, scans and
//! checkpoints run as `AsyncTask`s on the libuv pool. Point reads are sync: they are served
//! from RocksDB's block cache and an async hop would cost more than the read.
//!
//! Errors cross as `Error` objects whose message starts with `[CODE] `; `ts/native.ts` turns
//! that prefix into a stable `code` property.
#![deny(clippy::all)]

mod bars;
mod compress;
mod engine;
mod engine_scan;
mod engine_tasks;
mod error;
mod kv_batch;
mod market;
mod metrics;
mod pacer;
mod replay;
mod wal;

pub use bars::NativeBars;
pub use compress::{zstd_compress, zstd_decompress};
pub use engine::NativeEngine;
pub use kv_batch::compact_batch;
pub use market::NativeBooks;
pub use pacer::pacer_sleep;
pub use replay::NativeReplay;
pub use wal::NativeWal;
