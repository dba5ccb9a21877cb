//! The engine's work beside applying, each an `AsyncTask` on the libuv pool: checkpoints, state
//! digests (of now, or of a view taken on the JS thread), flushes, compactions, and the count of
//! live bytes a defrag is bounded by.

use std::path::PathBuf;
use std::sync::Arc;

use engine_crate::{Engine, StateView};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{coded, from_engine};

pub struct Checkpoint {
    pub(crate) engine: Arc<Engine>,
    pub(crate) dir: PathBuf,
}

impl Task for Checkpoint {
    type Output = u64;
    type JsValue = i64;
    fn compute(&mut self) -> Result<u64> {
        self.engine.checkpoint(&self.dir).map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, output: u64) -> Result<i64> {
        Ok(output as i64)
    }
}

#[napi(object)]
pub struct Digest {
    pub applied_index: i64,
    pub sha256: String,
}

pub struct StateDigest {
    pub(crate) engine: Arc<Engine>,
}

impl Task for StateDigest {
    type Output = (u64, [u8; 32]);
    type JsValue = Digest;
    fn compute(&mut self) -> Result<Self::Output> {
        self.engine.state_digest().map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Digest> {
        Ok(digest_of(output))
    }
}

fn digest_of((applied, sha256): (u64, [u8; 32])) -> Digest {
    Digest {
        applied_index: applied as i64,
        sha256: sha256.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

pub struct ViewDigest {
    /// Taken by `compute`, so the snapshot goes as soon as the digest is done.
    pub(crate) view: Option<StateView>,
}

impl Task for ViewDigest {
    type Output = (u64, [u8; 32]);
    type JsValue = Digest;
    fn compute(&mut self) -> Result<Self::Output> {
        let view = self
            .view
            .take()
            .ok_or_else(|| coded("ENGINE_INVALID_ARGUMENT", "a view is digested once"))?;
        Ok((view.applied_index(), view.digest().map_err(from_engine)?))
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Digest> {
        Ok(digest_of(output))
    }
}

pub struct Flush {
    pub(crate) engine: Arc<Engine>,
}

impl Task for Flush {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        self.engine.flush().map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct CompactRange {
    pub(crate) engine: Arc<Engine>,
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
}

impl Task for CompactRange {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        self.engine
            .compact_range(&self.start, &self.end)
            .map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

#[napi(object)]
pub struct EngineSizes {
    pub live_sst_bytes: f64,
    pub live_data_bytes: f64,
    pub memtable_bytes: f64,
}

pub struct LiveBytes {
    pub(crate) engine: Arc<Engine>,
}

impl Task for LiveBytes {
    type Output = u64;
    type JsValue = f64;
    fn compute(&mut self) -> Result<u64> {
        self.engine.live_bytes().map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, output: u64) -> Result<f64> {
        Ok(output as f64)
    }
}

pub struct CompactAll {
    pub(crate) engine: Arc<Engine>,
}

impl Task for CompactAll {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        self.engine.compact_all().map_err(from_engine)
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
