//! `POST /v1/batch` bodies in the compact shape the client library sends, encoded in the addon
//! (`engine::batch_body`): the JS thread skips JSON.parse and a JSON.stringify per value.

use engine_crate::batch_body::{compact_batch as encode, BatchLimits};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The batch section of a Raft command (`count u32`, then the items as ts/node/commands.ts
/// encodes them) for a body in the compact shape; null for any other body, which the caller
/// parses as JSON. The limits are the API's, passed in so they have one definition.
#[napi]
pub fn compact_batch(
    body: &[u8],
    ops_max: u32,
    key_bytes_max: u32,
    value_bytes_max: u32,
) -> Option<Buffer> {
    let limits = BatchLimits {
        ops_max: ops_max as usize,
        key_bytes_max: key_bytes_max as usize,
        value_bytes_max: value_bytes_max as usize,
    };
    encode(body, &limits).map(Buffer::from)
}
