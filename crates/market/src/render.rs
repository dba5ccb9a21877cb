//! Stored records as text, written straight into an output buffer (no allocation per record):
//! the JSON an event line carries — the ingest shape plus `seq`, 64-bit values as decimal
//! strings, prices in their shortest decimal form. The key order is the one
//! `ts/market/records.ts` (`recordToEvent`) writes, so a replay and a live stream of the same
//! record are the same bytes (a test compares them).

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

/// "00".."99": two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `v` in decimal (no allocation, no `core::fmt`: this runs once per field per event).
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + v as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a price in units of 1e-9 in its shortest decimal form (`101.25`, `-3.5`, `42`).
pub fn write_price(out: &mut Vec<u8>, units: i64) {
    if units < 0 {
        out.push(b'-');
    }
    let abs = units.unsigned_abs();
    let scale = PRICE_SCALE as u64;
    push_u64(out, abs / scale);
    let mut fraction = abs % scale;
    if fraction == 0 {
        return;
    }
    let mut digits = [b'0'; 9];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
    out.push(b'.');
    out.extend_from_slice(&digits[..len]);
}

/// `,"key":"<price>"`
fn quoted_price(out: &mut Vec<u8>, key: &[u8], units: i64) {
    out.extend_from_slice(key);
    write_price(out, units);
    out.push(b'"');
}

/// `<key><u64>"` (the key ends with the opening quote).
fn quoted_u64(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.extend_from_slice(key);
    push_u64(out, v);
    out.push(b'"');
}

/// `,"side":"<side>","price":"<price>","size":<size>` (deltas and trades).
fn side_price_size(out: &mut Vec<u8>, side: &str, price: i64, size: u64) {
    out.extend_from_slice(br#","side":""#);
    out.extend_from_slice(side.as_bytes());
    out.push(b'"');
    quoted_price(out, br#","price":""#, price);
    out.extend_from_slice(br#","size":"#);
    push_u64(out, size);
}

/// Appends one record as an event object (`symbol_json`, `producer_json`: the instrument's and
/// the producer's names as JSON strings). The record must have passed `Delta::decode` (known
/// kind, action and side).
pub fn write_event_json(out: &mut Vec<u8>, r: &[u8], symbol_json: &str, producer_json: &str) {
    let kind = r[0];
    let flags = r[3];
    out.extend_from_slice(match kind {
        KIND_DELTA => br#"{"kind":"delta","instrument":"#,
        KIND_TRADE => br#"{"kind":"trade","instrument":"#,
        _ => br#"{"kind":"quote","instrument":"#,
    });
    out.extend_from_slice(symbol_json.as_bytes());
    quoted_u64(out, br#","seq":""#, u64_at(r, 72));
    quoted_u64(out, br#","tsEvent":""#, u64_at(r, 48));
    quoted_u64(out, br#","tsRecv":""#, u64_at(r, 56));
    out.extend_from_slice(br#","producerId":"#);
    out.extend_from_slice(producer_json.as_bytes());
    quoted_u64(out, br#","producerSeq":""#, u64_at(r, 88));
    let venue_seq = u64_at(r, 64);
    if venue_seq != 0 {
        quoted_u64(out, br#","venueSeq":""#, venue_seq);
    }
    let publisher = u32_at(r, 8);
    if publisher != 0 {
        out.extend_from_slice(br#","publisher":"#);
        push_u64(out, u64::from(publisher));
    }
    out.extend_from_slice(if flags & F_LAST != 0 {
        br#","last":true"#
    } else {
        br#","last":false"#
    });
    if flags & F_MAYBE_BAD_BOOK != 0 {
        out.extend_from_slice(br#","maybeBad":true"#);
    }
    let (price, size) = (u64_at(r, 16) as i64, u64_at(r, 24));
    match kind {
        KIND_DELTA => {
            out.extend_from_slice(br#","action":""#);
            out.extend_from_slice(ACTION_NAMES[usize::from(r[1])].as_bytes());
            out.push(b'"');
            if r[1] != ACTION_CLEAR {
                side_price_size(out, BOOK_SIDES[usize::from(r[2])], price, size);
                out.extend_from_slice(br#","orders":"#);
                push_u64(out, u64::from(u32_at(r, 12)));
            }
        }
        KIND_TRADE => {
            side_price_size(out, TRADE_SIDES[usize::from(r[2])], price, size);
        }
        _ => {
            quoted_price(out, br#","bidPrice":""#, price);
            out.extend_from_slice(br#","bidSize":"#);
            push_u64(out, size);
            quoted_price(out, br#","askPrice":""#, u64_at(r, 32) as i64);
            out.extend_from_slice(br#","askSize":"#);
            push_u64(out, u64_at(r, 40));
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price::format_price;

    #[test]
    fn integers_match_display() {
        for v in [0, 1, 9, 10, 99, 12_345, u64::MAX, 1_700_000_000_000_000_001] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

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
        write_event_json(&mut out, &r, "\"AAPL\"", "\"feed-1\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"trade","instrument":"AAPL","seq":"65536","tsEvent":"1700000000000000001","tsRecv":"0","producerId":"feed-1","producerSeq":"7","last":true,"side":"buy","price":"101.25","size":300}"#
        );
    }
}
