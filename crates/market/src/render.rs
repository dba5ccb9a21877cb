//! Stored records as text, written straight into an output buffer (no allocation per record):
//! the JSON an event line carries — the ingest shape plus `seq`, 64-bit values as decimal
//! strings, prices in their shortest decimal form. The key order is the one
//! `ts/market/records.ts` (`recordToEvent`) writes, so a replay and a live stream of the same
//! record are the same bytes (a test compares them).

use std::io::Write;

use crate::price::PRICE_SCALE;
use crate::record::{F_LAST, F_MAYBE_BAD_BOOK, KIND_DELTA, KIND_TRADE};

const ACTION_NAMES: [&str; 8] = [
    "", "add", "modify", "cancel", "clear", "snapshot", "trade", "fill",
];
const BOOK_SIDES: [&str; 3] = ["none", "bid", "ask"];
const TRADE_SIDES: [&str; 3] = ["none", "buy", "sell"];
const ACTION_CLEAR: u8 = 4;

fn u32_at(r: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(r: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(r[at..at + 8].try_into().expect("8 bytes"))
}

/// Appends a price in units of 1e-9 in its shortest decimal form (`101.25`, `-3.5`, `42`).
pub fn write_price(out: &mut Vec<u8>, units: i64) {
    if units < 0 {
        out.push(b'-');
    }
    let abs = units.unsigned_abs();
    let scale = PRICE_SCALE as u64;
    write!(out, "{}", abs / scale).expect("writes to a Vec never fail");
    let mut fraction = abs % scale;
    if fraction == 0 {
        return;
    }
    let mut digits = 9;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    write!(out, ".{fraction:0digits$}").expect("writes to a Vec never fail");
}

fn quoted_price(out: &mut Vec<u8>, key: &str, units: i64) {
    write!(out, ",\"{key}\":\"").expect("writes to a Vec never fail");
    write_price(out, units);
    out.push(b'"');
}

/// Appends one record as an event object (`symbol_json`: the instrument's name as a JSON string).
/// The record must have passed `Delta::decode` (known kind, action and side).
pub fn write_event_json(out: &mut Vec<u8>, r: &[u8], symbol_json: &str) {
    let kind = r[0];
    let flags = r[3];
    let name = match kind {
        KIND_DELTA => "delta",
        KIND_TRADE => "trade",
        _ => "quote",
    };
    write!(
        out,
        r#"{{"kind":"{name}","instrument":{symbol_json},"seq":"{}","tsEvent":"{}","tsRecv":"{}","producerSeq":"{}""#,
        u64_at(r, 72),
        u64_at(r, 48),
        u64_at(r, 56),
        u64_at(r, 88)
    )
    .expect("writes to a Vec never fail");
    let venue_seq = u64_at(r, 64);
    if venue_seq != 0 {
        write!(out, r#","venueSeq":"{venue_seq}""#).expect("writes to a Vec never fail");
    }
    let publisher = u32_at(r, 8);
    if publisher != 0 {
        write!(out, r#","publisher":{publisher}"#).expect("writes to a Vec never fail");
    }
    write!(out, r#","last":{}"#, flags & F_LAST != 0).expect("writes to a Vec never fail");
    if flags & F_MAYBE_BAD_BOOK != 0 {
        out.extend_from_slice(br#","maybeBad":true"#);
    }
    let (price, size) = (u64_at(r, 16) as i64, u64_at(r, 24));
    match kind {
        KIND_DELTA => {
            write!(out, r#","action":"{}""#, ACTION_NAMES[usize::from(r[1])])
                .expect("writes to a Vec never fail");
            if r[1] != ACTION_CLEAR {
                write!(out, r#","side":"{}""#, BOOK_SIDES[usize::from(r[2])])
                    .expect("writes to a Vec never fail");
                quoted_price(out, "price", price);
                write!(out, r#","size":{size},"orders":{}"#, u32_at(r, 12))
                    .expect("writes to a Vec never fail");
            }
        }
        KIND_TRADE => {
            write!(out, r#","side":"{}""#, TRADE_SIDES[usize::from(r[2])])
                .expect("writes to a Vec never fail");
            quoted_price(out, "price", price);
            write!(out, r#","size":{size}"#).expect("writes to a Vec never fail");
        }
        _ => {
            quoted_price(out, "bidPrice", price);
            write!(out, r#","bidSize":{size}"#).expect("writes to a Vec never fail");
            quoted_price(out, "askPrice", u64_at(r, 32) as i64);
            write!(out, r#","askSize":{}"#, u64_at(r, 40)).expect("writes to a Vec never fail");
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price::format_price;

    #[test]
    fn prices_match_format_price() {
        for units in [
            0,
            1,
            -1,
            101_250_000_000,
            -3_500_000_000,
            i64::MAX,
            i64::MIN + 1,
            42 * PRICE_SCALE,
        ] {
            let mut out = Vec::new();
            write_price(&mut out, units);
            assert_eq!(String::from_utf8(out).unwrap(), format_price(units));
        }
    }

    #[test]
    fn a_trade_has_the_ingest_shape_plus_seq() {
        let mut r = [0u8; 96];
        r[0] = KIND_TRADE;
        r[2] = 1;
        r[3] = F_LAST;
        r[16..24].copy_from_slice(&101_250_000_000i64.to_le_bytes());
        r[24..32].copy_from_slice(&300u64.to_le_bytes());
        r[48..56].copy_from_slice(&1_700_000_000_000_000_001u64.to_le_bytes());
        r[72..80].copy_from_slice(&65_536u64.to_le_bytes());
        r[88..96].copy_from_slice(&7u64.to_le_bytes());
        let mut out = Vec::new();
        write_event_json(&mut out, &r, "\"AAPL\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"trade","instrument":"AAPL","seq":"65536","tsEvent":"1700000000000000001","tsRecv":"0","producerSeq":"7","last":true,"side":"buy","price":"101.25","size":300}"#
        );
    }
}
