//! The engine's range reads across the addon boundary: scan options and answers as JavaScript
//! sees them, and the pooled tasks that page and count a range (crates/engine/src/scan.rs).

use std::sync::Arc;

use engine_crate::{Engine, RangeCount, ScanRequest};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

use crate::error::from_engine;

#[napi(object)]
pub struct ScanOptions {
    pub start: Option<Buffer>,
    pub end: Option<Buffer>,
    pub prefix: Option<Buffer>,
    /// Resume after this key (exclusive).
    pub after: Option<Buffer>,
    pub limit: u32,
    /// At most this many bytes of values in a page (a page holds at least one item).
    pub bytes_max: Option<u32>,
    /// Keys only: every value comes back empty.
    pub keys_only: Option<bool>,
    /// Descending key order (`after` then resumes below its key).
    pub reverse: Option<bool>,
    /// Each value cut to at most this many bytes.
    pub value_prefix_bytes: Option<u32>,
}

#[napi(object)]
pub struct CountResult {
    pub count: f64,
    /// The limit was reached: more keys lie after `last`.
    pub more: bool,
    pub last: Option<Buffer>,
}

#[napi(object)]
pub struct ScanResult {
    /// Packed `[keyLen u32][key][valueLen u32][value]`...
    pub items: Buffer,
    pub count: u32,
    pub more: bool,
}

pub(crate) fn scan_request(options: ScanOptions) -> ScanRequest {
    ScanRequest {
        start: options.start.map(|b| b.to_vec()).unwrap_or_default(),
        end: options.end.map(|b| b.to_vec()),
        prefix: options.prefix.map(|b| b.to_vec()),
        after: options.after.map(|b| b.to_vec()),
        limit: options.limit as usize,
        bytes_max: options.bytes_max.map(|b| b as usize),
        keys_only: options.keys_only.unwrap_or(false),
        reverse: options.reverse.unwrap_or(false),
        value_prefix_bytes: options.value_prefix_bytes.map(|n| n as usize),
    }
}

pub struct Scan {
    pub(crate) engine: Arc<Engine>,
    pub(crate) request: ScanRequest,
}

impl Task for Scan {
    type Output = (Vec<u8>, u32, bool);
    type JsValue = ScanResult;
    fn compute(&mut self) -> Result<Self::Output> {
        let page = self.engine.scan(&self.request).map_err(from_engine)?;
        let mut out = Vec::new();
        for (k, v) in &page.items {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        Ok((out, page.items.len() as u32, page.more))
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<ScanResult> {
        Ok(ScanResult {
            items: output.0.into(),
            count: output.1,
            more: output.2,
        })
    }
}

pub struct Count {
    pub(crate) engine: Arc<Engine>,
    pub(crate) request: ScanRequest,
}

impl Task for Count {
    type Output = RangeCount;
    type JsValue = CountResult;
    fn compute(&mut self) -> Result<Self::Output> {
        self.engine.count(&self.request).map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<CountResult> {
        Ok(CountResult {
            count: output.count as f64,
            more: output.more,
            last: output.last.map(Into::into),
        })
    }
}
