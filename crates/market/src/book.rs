//! One instrument's L2 book: price levels per side with their total size and order count,
//! changed only by committed deltas, so every replica holds the same book at the same seq.
//!
//! Bounded: at most `levels_max` levels per side. A new level beyond that evicts the worst one
//! (the farthest from the touch) — deterministic, so replicas never diverge — and a level worse
//! than every kept one is dropped.

use std::collections::BTreeMap;

use crate::error::{MarketError, Result};
use crate::price::format_price;
use crate::record::{Action, Delta, F_LAST, F_MAYBE_BAD_BOOK, F_SNAPSHOT, KIND_DELTA};
use crate::render::{push_u64, write_price};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Bid,
    Ask,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    pub size: u64,
    pub orders: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    bids: BTreeMap<i64, Level>,
    asks: BTreeMap<i64, Level>,
    /// The seq and venue time of the last record applied.
    pub seq: u64,
    pub ts_event: u64,
    /// A gap was detected since the last snapshot: the book may be wrong.
    pub maybe_bad: bool,
    /// Inside a snapshot sequence (between its first record and the one with F_LAST).
    in_snapshot: bool,
}

const ENCODING_VERSION: u8 = 1;

impl Book {
    pub fn level_count(&self, side: Side) -> usize {
        self.side(side).len()
    }

    fn side(&self, side: Side) -> &BTreeMap<i64, Level> {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// Bids high to low, asks low to high: the best `depth` levels.
    pub fn levels(&self, side: Side, depth: usize) -> Vec<(i64, Level)> {
        match side {
            Side::Bid => self
                .bids
                .iter()
                .rev()
                .take(depth)
                .map(|(p, l)| (*p, *l))
                .collect(),
            Side::Ask => self
                .asks
                .iter()
                .take(depth)
                .map(|(p, l)| (*p, *l))
                .collect(),
        }
    }

    pub fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Bid => self.bids.keys().next_back().copied(),
            Side::Ask => self.asks.keys().next().copied(),
        }
    }

    /// Applies one record. Trades, fills and quotes move only the book's seq and time.
    pub fn apply(&mut self, d: &Delta, levels_max: usize) {
        self.seq = d.seq;
        self.ts_event = d.ts_event;
        if d.flags & F_MAYBE_BAD_BOOK != 0 {
            self.maybe_bad = true;
        }
        if d.kind != KIND_DELTA {
            return;
        }
        let snapshot = d.action == Action::Snapshot || d.flags & F_SNAPSHOT != 0;
        if snapshot && !self.in_snapshot {
            // The first record of a snapshot replaces the whole book.
            self.bids.clear();
            self.asks.clear();
            self.in_snapshot = true;
        }
        match d.action {
            Action::Add | Action::Modify | Action::Snapshot => self.set_level(d, levels_max),
            Action::Cancel => self.remove_level(d),
            Action::Clear => {
                self.bids.clear();
                self.asks.clear();
            }
            Action::Trade | Action::Fill => {}
        }
        if snapshot && d.flags & F_LAST != 0 {
            self.in_snapshot = false;
            if d.flags & F_MAYBE_BAD_BOOK == 0 {
                self.maybe_bad = false;
            }
        }
    }

    fn side_mut(&mut self, side: u8) -> Option<(&mut BTreeMap<i64, Level>, Side)> {
        match side {
            1 => Some((&mut self.bids, Side::Bid)),
            2 => Some((&mut self.asks, Side::Ask)),
            _ => None,
        }
    }

    fn set_level(&mut self, d: &Delta, levels_max: usize) {
        let Some((levels, side)) = self.side_mut(d.side) else {
            return;
        };
        if d.size == 0 {
            levels.remove(&d.price);
            return;
        }
        levels.insert(
            d.price,
            Level {
                size: d.size,
                orders: d.orders,
            },
        );
        if levels.len() > levels_max {
            // Evict the level farthest from the touch (maybe the one just set).
            let worst = match side {
                Side::Bid => *levels.keys().next().expect("non-empty"),
                Side::Ask => *levels.keys().next_back().expect("non-empty"),
            };
            levels.remove(&worst);
        }
    }

    fn remove_level(&mut self, d: &Delta) {
        if let Some((levels, _)) = self.side_mut(d.side) {
            levels.remove(&d.price);
        }
    }

    /// The book as JSON (`symbol_json`: the instrument's name, already a JSON string).
    pub fn view_json(&self, symbol_json: &str, depth: usize) -> String {
        let mut out = Vec::with_capacity(256 + 48 * depth);
        self.write_view_json(&mut out, b"{", symbol_json, depth);
        String::from_utf8(out).expect("the view is ASCII")
    }

    /// Appends the view: `open` (`{`, or `{` plus leading fields) then the book's fields.
    pub fn write_view_json(&self, out: &mut Vec<u8>, open: &[u8], symbol_json: &str, depth: usize) {
        let (bid, ask) = (self.best(Side::Bid), self.best(Side::Ask));
        out.extend_from_slice(open);
        out.extend_from_slice(br#""instrument":"#);
        out.extend_from_slice(symbol_json.as_bytes());
        out.extend_from_slice(br#","seq":""#);
        push_u64(out, self.seq);
        out.extend_from_slice(br#"","tsEvent":""#);
        push_u64(out, self.ts_event);
        out.extend_from_slice(br#"","bids":"#);
        write_levels(out, self.bids.iter().rev().take(depth));
        out.extend_from_slice(br#","asks":"#);
        write_levels(out, self.asks.iter().take(depth));
        out.extend_from_slice(br#","bestBid":"#);
        write_optional_price(out, bid);
        out.extend_from_slice(br#","bestAsk":"#);
        write_optional_price(out, ask);
        match (bid, ask) {
            (Some(b), Some(a)) => {
                out.extend_from_slice(br#","spread":""#);
                write_price(out, a - b);
                out.extend_from_slice(br#"","mid":""#);
                out.extend_from_slice(format_half(i128::from(a) + i128::from(b)).as_bytes());
                out.push(b'"');
            }
            _ => out.extend_from_slice(br#","spread":null,"mid":null"#),
        }
        out.extend_from_slice(if self.maybe_bad {
            br#","maybeBad":true}"#
        } else {
            br#","maybeBad":false}"#
        });
    }

    /// The book's persistent form (written with the applied index; read back at restart).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 20 * (self.bids.len() + self.asks.len()));
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.ts_event.to_le_bytes());
        out.push(u8::from(self.maybe_bad) | (u8::from(self.in_snapshot) << 1));
        for levels in [&self.bids, &self.asks] {
            out.extend_from_slice(&(levels.len() as u32).to_le_bytes());
            for (p, l) in levels {
                out.extend_from_slice(&p.to_le_bytes());
                out.extend_from_slice(&l.size.to_le_bytes());
                out.extend_from_slice(&l.orders.to_le_bytes());
            }
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Book> {
        let corrupt = |what: &str| MarketError::Corrupt(format!("stored book: {what}"));
        let mut r = Reader { b, at: 0 };
        if r.take(1).ok_or_else(|| corrupt("empty"))?[0] != ENCODING_VERSION {
            return Err(corrupt("unknown version"));
        }
        let mut book = Book {
            seq: r.u64().ok_or_else(|| corrupt("seq"))?,
            ts_event: r.u64().ok_or_else(|| corrupt("tsEvent"))?,
            ..Book::default()
        };
        let flags = r.take(1).ok_or_else(|| corrupt("flags"))?[0];
        book.maybe_bad = flags & 1 != 0;
        book.in_snapshot = flags & 2 != 0;
        for side in [Side::Bid, Side::Ask] {
            let n = r.u32().ok_or_else(|| corrupt("level count"))?;
            for _ in 0..n {
                let price = r.u64().ok_or_else(|| corrupt("level"))? as i64;
                let size = r.u64().ok_or_else(|| corrupt("level"))?;
                let orders = r.u32().ok_or_else(|| corrupt("level"))?;
                let levels = if side == Side::Bid {
                    &mut book.bids
                } else {
                    &mut book.asks
                };
                levels.insert(price, Level { size, orders });
            }
        }
        if r.at != b.len() {
            return Err(corrupt("bytes after the end"));
        }
        Ok(book)
    }
}

fn write_levels<'a>(out: &mut Vec<u8>, levels: impl Iterator<Item = (&'a i64, &'a Level)>) {
    out.push(b'[');
    for (i, (price, level)) in levels.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"price":""#);
        write_price(out, *price);
        out.extend_from_slice(br#"","size":"#);
        push_u64(out, level.size);
        out.extend_from_slice(br#","orders":"#);
        push_u64(out, u64::from(level.orders));
        out.push(b'}');
    }
    out.push(b']');
}

fn write_optional_price(out: &mut Vec<u8>, price: Option<i64>) {
    match price {
        Some(p) => {
            out.push(b'"');
            write_price(out, p);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// `value / 2` in units of 1e-9, exactly: a half unit is written as one more decimal digit.
fn format_half(value: i128) -> String {
    let half = value / 2;
    let text = format_price(half as i64);
    if value % 2 == 0 {
        return text;
    }
    // value is odd: the mid is half + 0.5 units (toward the sign of value).
    let units = value.unsigned_abs() * 5; // in units of 1e-10
    let sign = if value < 0 { "-" } else { "" };
    let whole = units / 10_000_000_000;
    let frac = format!("{:010}", units % 10_000_000_000);
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(out)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
    }
}
