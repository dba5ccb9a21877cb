//! The packed write batch handed over from JavaScript in one call:
//! `[op u8][key_len u32][key]` then, for puts, `[value_len u32][value]`; little-endian.

use crate::error::{EngineError, Result};

pub const OP_PUT: u8 = 1;
pub const OP_DELETE: u8 = 2;

#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

impl<'a> Op<'a> {
    pub fn key(&self) -> &'a [u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
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
