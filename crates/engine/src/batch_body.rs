//! A batched-write body (`POST /v1/batch`) in the compact shape the client library sends,
//! turned straight into the batch items of a Raft command, without JSON.parse and a
//! JSON.stringify per value in JavaScript (a CPU profile: ~17% of a leader's busy thread under
//! 1,000 client callers writing).
//!
//! The shape: `{"ops":[{"op":"put","key":"k","value":V},{"op":"delete","key":"k"},...]}` as
//! JSON.stringify writes it: no whitespace, fields `op`, `key` and (puts only) `value` in any
//! order, each once, keys without escapes or control characters, no key twice. Each value must
//! already be in the form the API stores (`JSON.stringify(JSON.parse(text))`, see
//! `canonical_value`), so its bytes are copied as they are. Anything else — another field, an escape in a key, a number
//! JSON.stringify would write differently, a duplicate or integer-like member name, a limit
//! exceeded — gives `None`, and the caller takes its general path, which accepts or refuses
//! the body with its usual errors. So this path never decides what is valid: it only recognises
//! bodies whose answer is already known.
//!
//! The output is the command's batch section, as `ts/node/commands.ts` encodes it:
//! `count u32`, then per item `flags u8 (0) | op u8 | key (u32 + utf8) | [value (u32 + bytes)]`.

use std::collections::HashSet;

/// The limits of the API's general path (`ts/api/args.ts`, `ts/api/batch.ts`).
pub struct BatchLimits {
    pub ops_max: usize,
    pub key_bytes_max: usize,
    pub value_bytes_max: usize,
}

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
/// Container nesting allowed inside one value here (the API allows 64 for the whole body,
/// which nests a value three deep): a deeper value takes the general path.
const VALUE_DEPTH_MAX: usize = 32;
/// Members of one object compared pairwise for duplicates; a larger object takes the general path.
const OBJECT_MEMBERS_MAX: usize = 64;

const OPEN: &[u8] = b"{\"ops\":[";
const CLOSE: &[u8] = b"]}";

pub fn compact_batch(body: &[u8], limits: &BatchLimits) -> Option<Vec<u8>> {
    // (JSON.parse reads the body as UTF-8 with replacement characters: not the same bytes.)
    std::str::from_utf8(body).ok()?;
    let inner = body.strip_prefix(OPEN)?.strip_suffix(CLOSE)?;
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0usize;
    let mut at = 0usize;
    // Keys have no escapes here, so equal bytes are equal keys. A repeated key is the general
    // path's to refuse (`duplicate_key`: one entry gives both writes the same revision).
    let mut keys = HashSet::new();
    while at < inner.len() {
        if count > 0 {
            if inner[at] != b',' {
                return None;
            }
            at += 1;
        }
        let key;
        (at, key) = item(inner, at, limits, &mut out)?;
        if !keys.insert(key) {
            return None;
        }
        count += 1;
        if count > limits.ops_max {
            return None;
        }
    }
    if count == 0 {
        return None;
    }
    out[..4].copy_from_slice(&(count as u32).to_le_bytes());
    Some(out)
}

/// One `{"op":..,"key":..,"value":..}` from `at`, appended to `out`; the index after it and
/// the item's key.
fn item<'a>(
    s: &'a [u8],
    mut at: usize,
    limits: &BatchLimits,
    out: &mut Vec<u8>,
) -> Option<(usize, &'a [u8])> {
    if s.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    let (mut op, mut key, mut value) = (None, None, None);
    loop {
        let name_end = plain_string(s, at)?;
        let name = &s[at + 1..name_end - 1];
        if s.get(name_end) != Some(&b':') {
            return None;
        }
        let from = name_end + 1;
        let to = match name {
            b"op" | b"key" => plain_string(s, from)?,
            b"value" => canonical_value(s, from, 0)?,
            _ => return None,
        };
        let slot = match name {
            b"op" => &mut op,
            b"key" => &mut key,
            _ => &mut value,
        };
        if slot.replace(&s[from..to]).is_some() {
            return None;
        }
        at = to;
        match s.get(at) {
            Some(b',') => at += 1,
            Some(b'}') => break,
            _ => return None,
        }
    }
    let key = &key?[1..key?.len() - 1];
    if key.is_empty() || key.len() > limits.key_bytes_max {
        return None;
    }
    let op = match (op?, value) {
        (b"\"put\"", Some(v)) if v.len() <= limits.value_bytes_max => OP_PUT,
        (b"\"delete\"", None) => OP_DELETE,
        _ => return None,
    };
    out.push(0);
    out.push(op);
    put_bytes(out, key);
    if let Some(v) = value {
        put_bytes(out, v);
    }
    Some((at + 1, key))
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A string at `at` with no escape and no control character; the index after its closing quote.
fn plain_string(s: &[u8], at: usize) -> Option<usize> {
    if s.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' | 0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// A JSON value at `at` exactly as JSON.stringify would write the value JSON.parse reads from
/// it; the index after it. `depth`: containers around it within the value.
fn canonical_value(s: &[u8], at: usize, depth: usize) -> Option<usize> {
    match *s.get(at)? {
        b'"' => canonical_string(s, at),
        b'{' => canonical_object(s, at, depth + 1),
        b'[' => canonical_array(s, at, depth + 1),
        b'n' => literal(s, at, b"null"),
        b't' => literal(s, at, b"true"),
        b'f' => literal(s, at, b"false"),
        b'-' | b'0'..=b'9' => canonical_number(s, at),
        _ => None,
    }
}

fn literal(s: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    s[at..].starts_with(word).then_some(at + word.len())
}

/// JSON.stringify escapes `"`, `\` and control characters only: as `\b \f \n \r \t`, else as
/// `\u00xx` in lowercase hex. (A `\u` escape of anything else — `\/`, a surrogate — is not its form.)
fn canonical_string(s: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            0..=0x1f => return None,
            b'\\' => {
                i += match *s.get(i + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' => {
                        let hex = s.get(i + 2..i + 6)?;
                        let lower = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                        if &hex[..2] != b"00" || !hex[2..].iter().all(|&c| lower(c)) {
                            return None;
                        }
                        let code =
                            u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
                        // (These five have their short escapes.)
                        if code >= 0x20 || matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                            return None;
                        }
                        6
                    }
                    _ => return None,
                }
            }
            _ => i += 1,
        }
    }
}

/// Plain decimal notation that is the shortest text reading back as the same double: what
/// JavaScript writes for magnitudes in [1e-6, 1e21) and zero (Rust's `Display` for f64 writes
/// the shortest round-tripping digits too, never an exponent). `-0` is written `0`.
fn canonical_number(s: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    while end < s.len() && matches!(s[end], b'-' | b'0'..=b'9' | b'.' | b'e' | b'E' | b'+') {
        end += 1;
    }
    let text = std::str::from_utf8(&s[at..end]).ok()?;
    if text.contains(['e', 'E', '+']) || text == "-0" {
        return None;
    }
    let x: f64 = text.parse().ok()?;
    let plain_zero = x == 0.0 && !text.starts_with('-');
    if !plain_zero && !(1e-6..1e21).contains(&x.abs()) {
        return None;
    }
    (format!("{x}") == text).then_some(end)
}

fn canonical_array(s: &[u8], at: usize, depth: usize) -> Option<usize> {
    if depth > VALUE_DEPTH_MAX {
        return None;
    }
    let mut i = at + 1;
    if s.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        i = canonical_value(s, i, depth)?;
        match *s.get(i)? {
            b',' => i += 1,
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// Members in order, names as JSON.stringify writes them, none twice (JSON.parse keeps the
/// last, JSON.stringify writes it once), and none that looks like an integer (JavaScript
/// orders integer-like names first, so they may not come back in the order given).
fn canonical_object(s: &[u8], at: usize, depth: usize) -> Option<usize> {
    if depth > VALUE_DEPTH_MAX {
        return None;
    }
    let mut i = at + 1;
    if s.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    let mut names: Vec<&[u8]> = Vec::new();
    loop {
        let name_end = canonical_string(s, i)?;
        let name = &s[i + 1..name_end - 1];
        if name.is_empty()
            || name.iter().all(u8::is_ascii_digit)
            || names.contains(&name)
            || names.len() == OBJECT_MEMBERS_MAX
        {
            return None;
        }
        names.push(name);
        if s.get(name_end) != Some(&b':') {
            return None;
        }
        i = canonical_value(s, name_end + 1, depth)?;
        match *s.get(i)? {
            b',' => i += 1,
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        ops_max: 3,
        key_bytes_max: 8,
        value_bytes_max: 32,
    };

    fn value_ok(v: &str) -> bool {
        let body = format!("{{\"ops\":[{{\"op\":\"put\",\"key\":\"k\",\"value\":{v}}}]}}");
        let limits = BatchLimits {
            value_bytes_max: 1 << 20,
            ..LIMITS
        };
        compact_batch(body.as_bytes(), &limits).is_some()
    }

    #[test]
    fn encodes_items_as_the_command_codec_does() {
        let body = br#"{"ops":[{"op":"put","key":"a","value":"x"},{"key":"b","op":"delete"}]}"#;
        let out = compact_batch(body, &LIMITS).unwrap();
        let mut want = vec![2, 0, 0, 0, 0, OP_PUT, 1, 0, 0, 0, b'a', 3, 0, 0, 0];
        want.extend_from_slice(b"\"x\"");
        want.extend_from_slice(&[0, OP_DELETE, 1, 0, 0, 0, b'b']);
        assert_eq!(out, want);
    }

    #[test]
    fn other_shapes_and_limits_take_the_general_path() {
        for body in [
            &br#"{"ops":[]}"#[..],
            br#"{"ops":[{"op":"put","key":"a"}]}"#,
            br#"{"ops":[{"op":"delete","key":"a","value":1}]}"#,
            br#"{"ops":[{"op":"put","key":"a","value":1,"ifRevision":2}]}"#,
            br#"{"ops":[{"op":"put","key":"a","value":1,"op":"put"}]}"#,
            br#"{"ops":[{"op":"get","key":"a"}]}"#,
            br#"{"ops":[{"op":"put","key":"","value":1}]}"#,
            br#"{"ops":[{"op":"put","key":"123456789","value":1}]}"#,
            br#"{"ops":[{"op":"put","key":"a\n","value":1}]}"#,
            br#"{"ops":[{"op":"put","key":"a","value":"0123456789012345678901234567890"}]}"#,
            br#"{"ops":[{"op":"put","key":"a","value":1}, {"op":"put","key":"b","value":1}]}"#,
            br#"{"ops":[{"op":"delete","key":"a"},{"op":"delete","key":"a"},{"op":"delete","key":"a"},{"op":"delete","key":"a"}]}"#,
            br#"{"ops":[{"op":"put","key":"a","value":1},{"op":"delete","key":"b"},{"op":"delete","key":"a"}]}"#,
            br#"{"ops":[{"op":"delete","key":"a"},]}"#,
            br#"{"ops":[{"op":"delete","key":"a"}] }"#,
            b"{\"ops\":[{\"op\":\"delete\",\"key\":\"\xff\"}]}",
        ] {
            assert!(compact_batch(body, &LIMITS).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn values_in_the_form_json_stringify_writes_pass_and_no_other() {
        for v in [
            "null",
            "true",
            "false",
            "0",
            "-1",
            "1.5",
            "-0.25",
            "123456789012345",
            "0.000001",
            "100000000000000000000",
            "\"\"",
            "\"a\\\"b\\\\c\\n\\u001f\\u0000é\"",
            "[]",
            "{}",
            "[1,[2,{\"a\":null}]]",
            "{\"a\":1,\"b\":{\"c\":[true]}}",
            "{\"__proto__\":1}",
        ] {
            assert!(value_ok(v), "{v} is canonical");
        }
        for v in [
            "-0",
            "1.0",
            "1e3",
            "1E3",
            "0.1e1",
            "01",
            "+1",
            "1.",
            ".5",
            "0.0000001",
            "1000000000000000000000",
            "9007199254740993",
            "0.30000000000000001",
            "\"\\/\"",
            "\"\\u0041\"",
            "\"\\u000A\"",
            "\"\\u000a\"",
            "\"\\ud800\"",
            "\"\t\"",
            "[1, 2]",
            "{\"a\":1,\"a\":2}",
            "{\"1\":1}",
            "nul",
            "[1,]",
            "{\"a\"}",
            "tru",
        ] {
            assert!(!value_ok(v), "{v} is not canonical");
        }
        let deep = format!(
            "{}{}",
            "[".repeat(VALUE_DEPTH_MAX + 1),
            "]".repeat(VALUE_DEPTH_MAX + 1)
        );
        assert!(!value_ok(&deep));
        let ok = format!(
            "{}{}",
            "[".repeat(VALUE_DEPTH_MAX),
            "]".repeat(VALUE_DEPTH_MAX)
        );
        assert!(value_ok(&ok));
    }
}
