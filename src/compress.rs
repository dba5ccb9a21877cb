//! zstd for backup log segments, on the libuv pool (a segment can be megabytes).

use compress_crate::{compress, decompress, CompressError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::coded;

fn from_compress(err: CompressError) -> Error {
    coded(err.code(), err)
}

pub struct Compress {
    data: Vec<u8>,
    level: i32,
}

impl Task for Compress {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        compress(&self.data, self.level).map_err(from_compress)
    }
    fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
        Ok(output.into())
    }
}

pub struct Decompress {
    frame: Vec<u8>,
    max_bytes: usize,
}

impl Task for Decompress {
    type Output = Vec<u8>;
    type JsValue = Buffer;
    fn compute(&mut self) -> Result<Vec<u8>> {
        decompress(&self.frame, self.max_bytes).map_err(from_compress)
    }
    fn resolve(&mut self, _env: Env, output: Vec<u8>) -> Result<Buffer> {
        Ok(output.into())
    }
}

/// One zstd frame of `data` at `level` (1..=19).
#[napi]
pub fn zstd_compress(data: &[u8], level: i32) -> AsyncTask<Compress> {
    AsyncTask::new(Compress {
        data: data.to_vec(),
        level,
    })
}

/// The content of one zstd frame; `[TOO_LARGE]` past `max_bytes`, `[CORRUPT]` if damaged.
#[napi]
pub fn zstd_decompress(frame: &[u8], max_bytes: u32) -> AsyncTask<Decompress> {
    AsyncTask::new(Decompress {
        frame: frame.to_vec(),
        max_bytes: max_bytes as usize,
    })
}
