//! Time bars (OHLCV) of an instrument's trades: the stored records of one instrument, pushed in
//! seq order, folded into bars of a fixed venue-time interval aligned to the epoch (kdb+'s
//! `interval xbar tsEvent`), over `[from, to)`. Only trades count; intervals without a trade
//! have no bar. Or, for markets quoted rather than traded (FX), bars of the quote mid: OHLC of
//! (bid + ask) / 2 over two-sided quotes, with their count.
//!
//! An instrument's venue times are taken to be non-decreasing in seq order (one venue's clock):
//! the fold stops at the first record at or past `to`, and a full answer stops at the first
//! trade of a bar past the limit. A trade whose time goes back is still counted, in its own bar.

use crate::error::{MarketError, Result};
use crate::record::{DELTA_BYTES, KIND_QUOTE, KIND_TRADE};

/// What a bar folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarSource {
    /// Trades: OHLC of their prices, volumes, count, VWAP.
    Trades,
    /// Two-sided quotes (both sizes > 0): OHLC of (bid + ask) / 2, rounded down to 1e-9, and
    /// their count.
    Mid,
}
use crate::render::{push_u64, write_price};

/// One bar. Prices are in units of 1e-9; `notional` is Σ price × size (for the VWAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub start_ns: u64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u128,
    pub buy_volume: u128,
    pub sell_volume: u128,
    pub trades: u64,
    pub notional: i128,
}

impl Bar {
    fn new(start_ns: u64, price: i64) -> Bar {
        Bar {
            start_ns,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0,
            buy_volume: 0,
            sell_volume: 0,
            trades: 0,
            notional: 0,
        }
    }

    fn add(&mut self, price: i64, size: u64, side: u8) -> Result<()> {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.trades += 1;
        self.volume += u128::from(size);
        match side {
            1 => self.buy_volume += u128::from(size),
            2 => self.sell_volume += u128::from(size),
            _ => {}
        }
        // price × size fits an i128 (2^63 × 2^64); only a sum of such products can overflow.
        self.notional = self
            .notional
            .checked_add(i128::from(price) * i128::from(size))
            .ok_or_else(|| MarketError::Invalid("a bar's notional overflows".into()))?;
        Ok(())
    }

    /// Σ price × size / Σ size, truncated to 1e-9 (the book VWAP's rounding); none without volume.
    pub fn vwap(&self) -> Option<i64> {
        if self.volume == 0 {
            return None;
        }
        // Between the bar's low and high, so it fits an i64.
        Some((self.notional / self.volume as i128) as i64)
    }
}

/// Where a fold stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarsEnd {
    /// More records may hold bars in range: push them.
    Open,
    /// A record at or past `to` was reached: the answer is complete.
    Reached,
    /// `bars_max` bars are full; the next answer starts at `next_ns`.
    Full { next_ns: u64 },
}

pub struct Bars {
    source: BarSource,
    from_ns: u64,
    to_ns: u64,
    interval_ns: u64,
    bars_max: usize,
    bars: Vec<Bar>,
    end: BarsEnd,
}

impl Bars {
    pub fn new(
        source: BarSource,
        from_ns: u64,
        to_ns: u64,
        interval_ns: u64,
        bars_max: usize,
    ) -> Result<Bars> {
        if interval_ns == 0 || bars_max == 0 || from_ns >= to_ns {
            return Err(MarketError::Invalid(format!(
                "bars need an interval > 0, a limit > 0 and from < to (got {interval_ns}, {bars_max}, {from_ns}..{to_ns})"
            )));
        }
        Ok(Bars {
            source,
            from_ns,
            to_ns,
            interval_ns,
            bars_max,
            bars: Vec::new(),
            end: BarsEnd::Open,
        })
    }

    pub fn end(&self) -> BarsEnd {
        self.end
    }

    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// Folds packed stored records (whole `DELTA_BYTES` records, in seq order) until the end.
    pub fn push(&mut self, packed: &[u8]) -> Result<BarsEnd> {
        if !packed.len().is_multiple_of(DELTA_BYTES) {
            return Err(MarketError::Invalid(format!(
                "packed records are whole {DELTA_BYTES}-byte records, got {} bytes",
                packed.len()
            )));
        }
        for r in packed.chunks_exact(DELTA_BYTES) {
            if self.end != BarsEnd::Open {
                break;
            }
            let ts = u64_at(r, 48);
            if ts >= self.to_ns {
                self.end = BarsEnd::Reached;
            } else if ts >= self.from_ns {
                self.record(ts, r)?;
            }
        }
        Ok(self.end)
    }

    /// Folds one record in range: a trade, or a two-sided quote's mid (size 0: no volume).
    fn record(&mut self, ts: u64, r: &[u8]) -> Result<()> {
        match self.source {
            BarSource::Trades if r[0] == KIND_TRADE => {
                self.fold(ts, u64_at(r, 16) as i64, u64_at(r, 24), r[2])
            }
            BarSource::Mid if r[0] == KIND_QUOTE && u64_at(r, 24) > 0 && u64_at(r, 40) > 0 => {
                let sum = i128::from(u64_at(r, 16) as i64) + i128::from(u64_at(r, 32) as i64);
                // Between the bid and the ask, so it fits an i64.
                self.fold(ts, sum.div_euclid(2) as i64, 0, 0)
            }
            _ => Ok(()),
        }
    }

    fn fold(&mut self, ts: u64, price: i64, size: u64, side: u8) -> Result<()> {
        let start_ns = ts - ts % self.interval_ns;
        let at = match self.bars.last() {
            Some(last) if last.start_ns == start_ns => self.bars.len() - 1,
            Some(last) if last.start_ns > start_ns => {
                // A venue clock that went back: its own bar, in start order.
                match self.bars.binary_search_by_key(&start_ns, |b| b.start_ns) {
                    Ok(at) => at,
                    Err(at) => {
                        self.bars.insert(at, Bar::new(start_ns, price));
                        at
                    }
                }
            }
            _ if self.bars.len() == self.bars_max => {
                self.end = BarsEnd::Full { next_ns: start_ns };
                return Ok(());
            }
            _ => {
                self.bars.push(Bar::new(start_ns, price));
                self.bars.len() - 1
            }
        };
        self.bars[at].add(price, size, side)
    }

    /// The bars as a JSON array: `{"start","open","high","low","close","volume","buyVolume",
    /// "sellVolume","trades","vwap"}` each, or `{"start","open","high","low","close","quotes"}` for
    /// mid bars (times as decimal strings, prices as decimal strings).
    pub fn render_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bars.len() * 200 + 2);
        out.push(b'[');
        for (i, b) in self.bars.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_bar(&mut out, b, self.source);
        }
        out.push(b']');
        out
    }
}

fn write_bar(out: &mut Vec<u8>, b: &Bar, source: BarSource) {
    out.extend_from_slice(b"{\"start\":\"");
    push_u64(out, b.start_ns);
    for (name, price) in [
        ("open", b.open),
        ("high", b.high),
        ("low", b.low),
        ("close", b.close),
    ] {
        out.extend_from_slice(format!("\",\"{name}\":\"").as_bytes());
        write_price(out, price);
    }
    if source == BarSource::Mid {
        out.extend_from_slice(b"\",\"quotes\":");
        push_u64(out, b.trades);
        out.push(b'}');
        return;
    }
    out.extend_from_slice(format!("\",\"volume\":{}", b.volume).as_bytes());
    out.extend_from_slice(format!(",\"buyVolume\":{}", b.buy_volume).as_bytes());
    out.extend_from_slice(format!(",\"sellVolume\":{}", b.sell_volume).as_bytes());
    out.extend_from_slice(b",\"trades\":");
    push_u64(out, b.trades);
    out.extend_from_slice(b",\"vwap\":");
    match b.vwap() {
        Some(v) => {
            out.push(b'"');
            write_price(out, v);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn u64_at(r: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(r[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Action, Delta, KIND_DELTA};

    const SEC: u64 = 1_000_000_000;

    fn record(kind: u8, ts: u64, price: i64, size: u64, side: u8) -> [u8; DELTA_BYTES] {
        Delta {
            kind,
            action: if kind == KIND_DELTA {
                Action::Add
            } else {
                Action::Trade
            },
            side,
            flags: 0,
            instrument: 0,
            orders: 0,
            price,
            size,
            ts_event: ts,
            seq: 0,
        }
        .encode()
    }

    fn trade(ts: u64, price: i64, size: u64, side: u8) -> [u8; DELTA_BYTES] {
        record(KIND_TRADE, ts, price, size, side)
    }

    fn packed(records: &[[u8; DELTA_BYTES]]) -> Vec<u8> {
        records.concat()
    }

    #[test]
    fn folds_trades_into_aligned_bars_and_skips_other_kinds() {
        let mut bars = Bars::new(BarSource::Trades, 60 * SEC, 240 * SEC, 60 * SEC, 10).unwrap();
        let end = bars
            .push(&packed(&[
                trade(59 * SEC, 1, 1, 1), // before `from`
                trade(61 * SEC, 100, 10, 1),
                record(KIND_DELTA, 62 * SEC, 500, 5, 1), // not a trade
                trade(70 * SEC, 103, 5, 2),
                trade(80 * SEC, 99, 5, 0),
                trade(181 * SEC, 200, 1, 1), // the 120 s bar has no trade
            ]))
            .unwrap();
        assert_eq!(end, BarsEnd::Open);
        let b = bars.bars();
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].start_ns, b[0].open, b[0].high, b[0].low, b[0].close),
            (60 * SEC, 100, 103, 99, 99)
        );
        assert_eq!(
            (b[0].volume, b[0].buy_volume, b[0].sell_volume, b[0].trades),
            (20, 10, 5, 3)
        );
        // (100×10 + 103×5 + 99×5) / 20 = 100.5, truncated to 100 units.
        assert_eq!(b[0].vwap(), Some(100));
        assert_eq!(b[1].start_ns, 180 * SEC);
        assert_eq!(
            bars.push(&packed(&[trade(240 * SEC, 1, 1, 1)])).unwrap(),
            BarsEnd::Reached
        );
    }

    #[test]
    fn a_full_answer_names_the_next_bar_and_reads_no_further() {
        let mut bars = Bars::new(BarSource::Trades, 0, u64::MAX, SEC, 2).unwrap();
        let end = bars
            .push(&packed(&[
                trade(SEC, 10, 1, 1),
                trade(2 * SEC, 20, 1, 1),
                trade(2 * SEC + 1, 21, 1, 1),
                trade(5 * SEC, 50, 1, 1),
                trade(6 * SEC, 60, 1, 1),
            ]))
            .unwrap();
        assert_eq!(end, BarsEnd::Full { next_ns: 5 * SEC });
        assert_eq!(bars.bars().len(), 2);
        assert_eq!(bars.bars()[1].trades, 2);
        assert_eq!(
            bars.push(&packed(&[trade(7 * SEC, 70, 1, 1)])).unwrap(),
            end
        );
        assert_eq!(bars.bars().len(), 2);
    }

    #[test]
    fn a_clock_going_back_counts_the_trade_in_its_own_bar() {
        let mut bars = Bars::new(BarSource::Trades, 0, u64::MAX, SEC, 10).unwrap();
        bars.push(&packed(&[
            trade(3 * SEC, 30, 1, 1),
            trade(SEC, 10, 1, 1),
            trade(3 * SEC + 5, 31, 1, 1),
            trade(SEC + 5, 11, 2, 1),
        ]))
        .unwrap();
        let starts: Vec<u64> = bars.bars().iter().map(|b| b.start_ns).collect();
        assert_eq!(starts, [SEC, 3 * SEC]);
        assert_eq!((bars.bars()[0].trades, bars.bars()[0].volume), (2, 3));
        assert_eq!(bars.bars()[1].close, 31);
    }

    #[test]
    fn renders_prices_as_decimal_strings_and_counts_as_numbers() {
        let mut bars = Bars::new(BarSource::Trades, 0, u64::MAX, SEC, 10).unwrap();
        bars.push(&packed(&[
            trade(SEC, 101_250_000_000, 3, 1),
            trade(SEC + 1, 101_500_000_000, 1, 2),
        ]))
        .unwrap();
        let text = String::from_utf8(bars.render_json()).unwrap();
        assert_eq!(
            text,
            r#"[{"start":"1000000000","open":"101.25","high":"101.5","low":"101.25","close":"101.5","volume":4,"buyVolume":3,"sellVolume":1,"trades":2,"vwap":"101.3125"}]"#
        );
    }

    #[test]
    fn refuses_a_bad_range_and_torn_records() {
        assert!(Bars::new(BarSource::Trades, 5, 5, SEC, 1).is_err());
        assert!(Bars::new(BarSource::Trades, 0, 5, 0, 1).is_err());
        assert!(Bars::new(BarSource::Trades, 0, 5, SEC, 0).is_err());
        let mut bars = Bars::new(BarSource::Trades, 0, 5, SEC, 1).unwrap();
        assert!(bars.push(&[0u8; DELTA_BYTES + 1]).is_err());
    }

    fn quote(ts: u64, bid: i64, bid_size: u64, ask: i64, ask_size: u64) -> [u8; DELTA_BYTES] {
        let mut r = record(KIND_QUOTE, ts, bid, bid_size, 0);
        r[32..40].copy_from_slice(&ask.to_le_bytes());
        r[40..48].copy_from_slice(&ask_size.to_le_bytes());
        r
    }

    #[test]
    fn mid_bars_fold_two_sided_quotes_only_and_round_down() {
        let mut bars = Bars::new(BarSource::Mid, 0, u64::MAX, SEC, 10).unwrap();
        bars.push(&packed(&[
            quote(SEC, 100, 5, 103, 5),     // mid 101.5 → 101
            trade(SEC + 1, 500, 1, 1),      // not a quote
            quote(SEC + 2, 90, 0, 200, 5),  // one-sided: skipped
            quote(SEC + 3, 110, 1, 112, 1), // 111
            quote(2 * SEC, -3, 1, 0, 1),    // -1.5 → -2 (down, not toward zero)
        ]))
        .unwrap();
        let b = bars.bars();
        assert_eq!(
            (b[0].open, b[0].high, b[0].low, b[0].close, b[0].trades),
            (101, 111, 101, 111, 2)
        );
        assert_eq!(b[1].open, -2);
        let text = String::from_utf8(bars.render_json()).unwrap();
        assert!(text.starts_with(r#"[{"start":"1000000000","open":"0.000000101","high":"0.000000111","low":"0.000000101","close":"0.000000111","quotes":2},"#), "{text}");
    }

    #[test]
    fn zero_size_trades_have_no_vwap() {
        let mut bars = Bars::new(BarSource::Trades, 0, u64::MAX, SEC, 1).unwrap();
        bars.push(&trade(SEC, 5, 0, 0)).unwrap();
        assert_eq!(bars.bars()[0].vwap(), None);
        assert!(String::from_utf8(bars.render_json())
            .unwrap()
            .contains("\"vwap\":null"));
    }
}
