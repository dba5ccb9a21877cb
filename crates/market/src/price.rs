//! Prices are integers in units of 1e-9 (Databento's DBN convention), so nothing on the hot
//! path parses or adds floats. Text form: a decimal string with at most 9 fractional digits.

use crate::error::{MarketError, Result};

/// Units per 1.0.
pub const PRICE_SCALE: i64 = 1_000_000_000;

/// `"101.25"` → 101_250_000_000. Refuses exponents, more than 9 decimals and overflow.
pub fn parse_price(text: &str) -> Result<i64> {
    let bad = || {
        MarketError::Invalid(format!(
            "price {text:?} is not a decimal with at most 9 fractional digits"
        ))
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || frac.len() > 9
        || !all_digits(int)
        || !all_digits(frac)
        || (digits.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let whole: i64 = int.parse().map_err(|_| bad())?;
    let mut fraction: i64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        fraction += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
    }
    let units = whole
        .checked_mul(PRICE_SCALE)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)?;
    Ok(if negative { -units } else { units })
}

/// 101_250_000_000 → `"101.25"`: the shortest form (no trailing zeros, no trailing point).
pub fn format_price(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let whole = abs / PRICE_SCALE as u64;
    let fraction = abs % PRICE_SCALE as u64;
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:09}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_shortest_forms() {
        for text in [
            "101.25",
            "0",
            "-3.5",
            "0.000000001",
            "9223372036.854775807",
            "42",
        ] {
            assert_eq!(format_price(parse_price(text).unwrap()), text);
        }
        assert_eq!(parse_price("101.250").unwrap(), 101_250_000_000);
        assert_eq!(format_price(parse_price("7.10").unwrap()), "7.1");
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for text in [
            "",
            ".5",
            "5.",
            "1e3",
            "1.0000000001",
            "abc",
            "1,5",
            "--1",
            "9223372037",
            "+1",
        ] {
            assert!(parse_price(text).is_err(), "{text} was accepted");
        }
    }
}
