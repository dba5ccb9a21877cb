//! The packed write batch handed over from JavaScript in one call:
//! `[op u8][key_len u32][key]` then, for puts, `[value_len u32][value]`, for range deletes
//! `[end_len u32][end]`; little-endian.

use crate::error::{EngineError, Result};

pub const OP_PUT: u8 = 1;
pub const OP_DELETE: u8 = 2;
pub const OP_DELETE_RANGE: u8 = 3;
pub const OP_UNCACHE: u8 = 4;

#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
    /// Every key in `[start, end)`: one range tombstone, which iterators skip in one seek,
    /// where the point tombstones of a large delete would each be stepped over by every later
    /// scan of the range until compaction drops them.
    DeleteRange(&'a [u8], &'a [u8]),
    /// Nothing for the engine: the read cache drops the key (a key a `DeleteRange` deleted).
    Uncache(&'a [u8]),
}

impl<'a> Op<'a> {
    /// The key the batch is sorted by (a range delete's: its start).
    pub fn key(&self) -> &'a [u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) | Op::DeleteRange(k, _) | Op::Uncache(k) => k,
        }
    }
}

/// Decodes the whole batch up front so a malformed batch is rejected before anything is
/// written: nothing is ever half-applied.
pub fn decode(packed: &[u8]) -> Result<Vec<Op<'_>>> {
    let mut ops = Vec::new();
    let mut at = 0usize;
    while at < packed.len() {
        let op = packed[at];
        at += 1;
        let key = take(packed, &mut at, "key")?;
        match op {
            OP_PUT => ops.push(Op::Put(key, take(packed, &mut at, "value")?)),
            OP_DELETE => ops.push(Op::Delete(key)),
            OP_DELETE_RANGE => ops.push(Op::DeleteRange(key, take(packed, &mut at, "range end")?)),
            OP_UNCACHE => ops.push(Op::Uncache(key)),
            other => {
                return Err(EngineError::InvalidArgument(format!(
                    "unknown op {other} in batch at byte {}",
                    at - 1
                )))
            }
        }
    }
    Ok(ops)
}

fn take<'a>(packed: &'a [u8], at: &mut usize, what: &str) -> Result<&'a [u8]> {
    if packed.len() - *at < 4 {
        return Err(EngineError::InvalidArgument(format!(
            "batch ends inside a {what} length at byte {at}"
        )));
    }
    let len = u32::from_le_bytes(packed[*at..*at + 4].try_into().unwrap()) as usize;
    *at += 4;
    if packed.len() - *at < len {
        return Err(EngineError::InvalidArgument(format!(
            "{what} of {len} bytes runs past the batch end"
        )));
    }
    let bytes = &packed[*at..*at + len];
    *at += len;
    Ok(bytes)
}

pub fn encode_put(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.push(OP_PUT);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

pub fn encode_delete(out: &mut Vec<u8>, key: &[u8]) {
    out.push(OP_DELETE);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
}

pub fn encode_delete_range(out: &mut Vec<u8>, start: &[u8], end: &[u8]) {
    out.push(OP_DELETE_RANGE);
    out.extend_from_slice(&(start.len() as u32).to_le_bytes());
    out.extend_from_slice(start);
    out.extend_from_slice(&(end.len() as u32).to_le_bytes());
    out.extend_from_slice(end);
}

pub fn encode_uncache(out: &mut Vec<u8>, key: &[u8]) {
    out.push(OP_UNCACHE);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
}
