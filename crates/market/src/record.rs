//! The fixed-size market record the log carries (little-endian, `DELTA_BYTES` each), one layout
//! for book deltas, trades and quotes so a batch is a plain array the book code walks without
//! parsing:
//!
//! ```text
//!  0 kind u8 (1 delta, 2 trade, 3 quote)   1 action u8   2 side u8   3 flags u8
//!  4 instrument u32    8 publisher u32    12 orders u32
//! 16 price i64 (quote: bid price)         24 size u64 (quote: bid size)
//! 32 ask price i64 (quote)                40 ask size u64 (quote)
//! 48 ts_event u64     56 ts_recv u64     64 venue_seq u64     72 seq u64
//! 80 producer u32     84 reserved u32    88 producer_seq u64
//! ```
//! In a batch as proposed, `instrument` and `producer` index the batch's own tables; stored, they
//! are the instrument's and the producer's ids (assigned in apply order).
//! Flags keep DBN's meanings: `F_LAST` ends one venue event, `F_SNAPSHOT` marks records of a
//! book snapshot, `F_MAYBE_BAD_BOOK` a book that may be wrong (a gap was detected).

use crate::error::{MarketError, Result};

pub const DELTA_BYTES: usize = 96;
pub const F_LAST: u8 = 128;
pub const F_SNAPSHOT: u8 = 32;
pub const F_MAYBE_BAD_BOOK: u8 = 4;

pub const KIND_DELTA: u8 = 1;
pub const KIND_TRADE: u8 = 2;
pub const KIND_QUOTE: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add = 1,
    Modify = 2,
    Cancel = 3,
    Clear = 4,
    Snapshot = 5,
    Trade = 6,
    Fill = 7,
}

impl Action {
    fn from_u8(v: u8) -> Result<Action> {
        Ok(match v {
            1 => Action::Add,
            2 => Action::Modify,
            3 => Action::Cancel,
            4 => Action::Clear,
            5 => Action::Snapshot,
            6 => Action::Trade,
            7 => Action::Fill,
            other => {
                return Err(MarketError::Invalid(format!(
                    "unknown delta action {other}"
                )))
            }
        })
    }
}

/// One decoded record (deltas are what books apply; trades and quotes pass through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    pub kind: u8,
    pub action: Action,
    /// 0 none, 1 bid (buy), 2 ask (sell).
    pub side: u8,
    pub flags: u8,
    pub instrument: u32,
    pub orders: u32,
    pub price: i64,
    pub size: u64,
    pub ts_event: u64,
    pub seq: u64,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Delta {
    /// Decodes the record at the start of `b` (at least `DELTA_BYTES` long).
    pub fn decode(b: &[u8]) -> Result<Delta> {
        if b.len() < DELTA_BYTES {
            return Err(MarketError::Invalid(format!(
                "a record is {DELTA_BYTES} bytes, got {}",
                b.len()
            )));
        }
        let kind = b[0];
        if !(KIND_DELTA..=KIND_QUOTE).contains(&kind) {
            return Err(MarketError::Invalid(format!("unknown record kind {kind}")));
        }
        let action = if kind == KIND_DELTA {
            Action::from_u8(b[1])?
        } else {
            Action::Trade
        };
        let side = b[2];
        if side > 2 {
            return Err(MarketError::Invalid(format!("unknown side {side}")));
        }
        Ok(Delta {
            kind,
            action,
            side,
            flags: b[3],
            instrument: u32_at(b, 4),
            orders: u32_at(b, 12),
            price: u64_at(b, 16) as i64,
            size: u64_at(b, 24),
            ts_event: u64_at(b, 48),
            seq: u64_at(b, 72),
        })
    }

    /// Writes the fields books use into a zeroed record (tests and tools).
    pub fn encode(&self) -> [u8; DELTA_BYTES] {
        let mut b = [0u8; DELTA_BYTES];
        b[0] = self.kind;
        b[1] = self.action as u8;
        b[2] = self.side;
        b[3] = self.flags;
        b[4..8].copy_from_slice(&self.instrument.to_le_bytes());
        b[12..16].copy_from_slice(&self.orders.to_le_bytes());
        b[16..24].copy_from_slice(&self.price.to_le_bytes());
        b[24..32].copy_from_slice(&self.size.to_le_bytes());
        b[48..56].copy_from_slice(&self.ts_event.to_le_bytes());
        b[72..80].copy_from_slice(&self.seq.to_le_bytes());
        b
    }
}
