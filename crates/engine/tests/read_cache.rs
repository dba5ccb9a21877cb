//! The read cache: bounded by entries and bytes (oldest first, a write keeps a key's place),
//! user keys only, both answer shapes kept per key and dropped by a write; the compact
//! multi-get body reader and the JSON escaping agree with the JavaScript they replace.

use engine::read_cache::{compact_keys, json_string, render, ReadCache, Shape};
use engine::{encode_delete, encode_put};

fn stored(revision: u64, value: &str) -> Vec<u8> {
    let mut out = revision.to_le_bytes().to_vec();
    out.extend_from_slice(value.as_bytes());
    out
}

fn batch(ops: &[(&str, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in ops {
        match value {
            Some(v) => encode_put(&mut out, key.as_bytes(), v),
            None => encode_delete(&mut out, key.as_bytes()),
        }
    }
    out
}

fn item(cache: &mut ReadCache, key: &str, shape: Shape) -> Option<String> {
    let mut out = Vec::new();
    cache
        .append_item(key.as_bytes(), shape, &mut out)
        .unwrap()
        .then(|| String::from_utf8(out).unwrap())
}

#[test]
fn bounded_by_entries_and_bytes_oldest_first_reserved_keys_never_cached() {
    let mut cache = ReadCache::new(3, 100);
    let v = |n: usize| Some(vec![b'x'; n]);
    cache
        .applied(&batch(&[
            ("a", v(10)),
            ("b", v(10)),
            ("c", v(10)),
            ("\0idem/k/x", v(10)),
        ]))
        .unwrap();
    assert_eq!(cache.len(), 3);
    cache.fill(b"d", &[b'x'; 10]);
    assert!(!cache.contains(b"a"), "the oldest went first");
    assert!(cache.contains(b"d"));
    cache.applied(&batch(&[("e", v(95))])).unwrap();
    assert_eq!(
        cache.len(),
        1,
        "a 95-byte value leaves room for nothing else under 100 bytes"
    );
    cache.applied(&batch(&[("e", None)])).unwrap();
    assert!(!cache.contains(b"e"));
    assert_eq!(cache.bytes(), 0);
    cache.fill(b"\0members", &[0; 10]);
    assert!(cache.is_empty(), "a reserved key is not filled either");
}

#[test]
fn a_write_updates_a_cached_key_in_place_recounting_its_bytes_keeping_its_place() {
    let mut cache = ReadCache::new(10, 100);
    let v = |n: usize| Some(vec![b'x'; n]);
    cache
        .applied(&batch(&[("a", v(10)), ("b", v(10))]))
        .unwrap();
    cache.applied(&batch(&[("a", v(85))])).unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.stored(b"a").unwrap().len(), 85);
    // 105 bytes now: the first inserted (a, though written last) goes, and only it.
    cache.applied(&batch(&[("c", v(10))])).unwrap();
    assert!(!cache.contains(b"a"));
    assert!(cache.contains(b"b") && cache.contains(b"c"));
    assert_eq!(cache.bytes(), 20);
}

#[test]
fn both_shapes_are_kept_per_key_dropped_by_a_write_and_counted() {
    let mut cache = ReadCache::new(10, 1000);
    cache
        .applied(&batch(&[("a", Some(stored(7, "{\"n\":1}")))]))
        .unwrap();
    let keyed = "{\"key\":\"a\",\"value\":{\"n\":1},\"revision\":7}";
    let positional = "{\"value\":{\"n\":1},\"revision\":7}";
    assert_eq!(item(&mut cache, "a", Shape::Keyed).as_deref(), Some(keyed));
    assert_eq!(
        item(&mut cache, "a", Shape::Positional).as_deref(),
        Some(positional)
    );
    assert_eq!(item(&mut cache, "a", Shape::Keyed).as_deref(), Some(keyed));
    assert_eq!(cache.bytes(), 15 + keyed.len() + positional.len());
    cache
        .applied(&batch(&[("a", Some(stored(9, "[3]")))]))
        .unwrap();
    assert_eq!(cache.bytes(), 11, "a write dropped both items");
    assert_eq!(
        item(&mut cache, "a", Shape::Positional).as_deref(),
        Some("{\"value\":[3],\"revision\":9}")
    );
    assert_eq!(
        item(&mut cache, "zz", Shape::Keyed),
        None,
        "not cached: the caller asks the engine"
    );
}

#[test]
fn a_rendered_item_counts_toward_the_limit_and_the_key_read_stays() {
    let mut cache = ReadCache::new(10, 100);
    cache
        .applied(&batch(&[
            ("a", Some(stored(1, "1"))),
            ("b", Some(stored(1, "2"))),
        ]))
        .unwrap();
    // 18 bytes of values; a's keyed item (34 bytes) and positional (24), then b's keyed (34): 110 > 100.
    assert_eq!(item(&mut cache, "a", Shape::Keyed).unwrap().len(), 34);
    assert_eq!(item(&mut cache, "a", Shape::Positional).unwrap().len(), 24);
    assert_eq!(cache.bytes(), 18 + 34 + 24);
    assert_eq!(
        item(&mut cache, "b", Shape::Keyed).as_deref(),
        Some("{\"key\":\"b\",\"value\":2,\"revision\":1}")
    );
    assert!(!cache.contains(b"a"), "the oldest went");
    assert!(cache.contains(b"b"), "the key just read stays");
    assert_eq!(cache.bytes(), 9 + 34);
}

#[test]
fn past_the_entry_limit_a_sixteenth_is_evicted_at_once_and_stale_order_entries_are_skipped() {
    let mut cache = ReadCache::new(32, 1 << 20);
    for i in 0..32 {
        cache.fill(format!("k{i}").as_bytes(), b"v");
    }
    // k0 deleted and written again: its old place is stale, its new one is last.
    cache.applied(&batch(&[("k0", None)])).unwrap();
    cache
        .applied(&batch(&[("k0", Some(b"v".to_vec()))]))
        .unwrap();
    cache.fill(b"k32", b"v");
    assert_eq!(cache.len(), 30, "down to 32 - 32/16 in one pass");
    assert!(!cache.contains(b"k1") && !cache.contains(b"k2") && !cache.contains(b"k3"));
    assert!(
        cache.contains(b"k0"),
        "re-inserted: young again (its stale place skipped)"
    );
    assert!(cache.contains(b"k4") && cache.contains(b"k32"));
    cache.fill(b"k33", b"v");
    assert_eq!(cache.len(), 31, "no pass until the limit is passed again");
}

#[test]
fn many_deletes_do_not_grow_the_order_without_bound() {
    let mut cache = ReadCache::new(1 << 20, 1 << 30);
    for round in 0..50 {
        let ops: Vec<_> = (0..1000).map(|i| (format!("k{i}"), round)).collect();
        let puts = batch(
            &ops.iter()
                .map(|(k, _)| (k.as_str(), Some(b"v".to_vec())))
                .collect::<Vec<_>>(),
        );
        let dels = batch(
            &ops.iter()
                .map(|(k, _)| (k.as_str(), None))
                .collect::<Vec<_>>(),
        );
        cache.applied(&puts).unwrap();
        cache.applied(&dels).unwrap();
    }
    assert!(cache.is_empty());
    cache.fill(b"last", b"v");
    assert_eq!(cache.len(), 1);
}

#[test]
fn keys_are_escaped_as_json_stringify_escapes_them() {
    let mut out = Vec::new();
    json_string(
        "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é€".as_bytes(),
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é€\""
    );
    let rendered = render(
        b"k",
        &stored(u64::from(u32::MAX) + 5, "\"v\""),
        Shape::Keyed,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(rendered).unwrap(),
        "{\"key\":\"k\",\"value\":\"v\",\"revision\":4294967300}"
    );
    assert!(
        render(b"k", &[1, 2, 3], Shape::Keyed).is_err(),
        "a stored value without its revision is corrupt"
    );
}

#[test]
fn compact_bodies_are_read_as_the_api_reads_them_and_anything_else_is_left_to_json() {
    let keys = |b: &str| {
        compact_keys(b.as_bytes()).map(|ks| {
            ks.iter()
                .map(|k| String::from_utf8(k.to_vec()).unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        keys("{\"keys\":[\"a\",\"bc\",\"é\"]}"),
        Some(vec!["a".into(), "bc".into(), "é".into()])
    );
    assert_eq!(keys("{\"keys\":[]}"), Some(vec![]));
    assert_eq!(
        keys("{\"keys\":[\"\"]}"),
        Some(vec!["".into()]),
        "empty keys are the validator's to refuse"
    );
    for other in [
        "{\"keys\": [\"a\"]}",
        "{\"keys\":[\"a\",]}",
        "{\"keys\":[\"a\\\"\"]}",
        "{\"keys\":[\"a\u{1}\"]}",
        "{\"keys\":[\"a\"",
        "{\"keys\":[\"a]}",
        "{\"keys\":[a]}",
        "{\"keys\":[\"a\"\"b\"]}",
    ] {
        assert_eq!(keys(other), None, "{other:?}");
    }
    assert_eq!(compact_keys(b"{\"keys\":[\"\xff\"]}"), None, "not UTF-8");
}

#[test]
fn reads_take_hits_from_the_cache_and_misses_from_the_engine_once() {
    use engine::read_cache::{read_into, Layout};
    use std::cell::Cell;
    let mut cache = ReadCache::new(100, 1 << 20);
    cache
        .applied(&batch(&[("a", Some(stored(1, "1")))]))
        .unwrap();
    let fetched = Cell::new(0);
    let engine = |keys: &[&[u8]]| {
        fetched.set(fetched.get() + keys.len());
        Ok(keys
            .iter()
            .map(|k| (*k == b"b").then(|| stored(2, "\"two\"")))
            .collect())
    };
    let keys: Vec<&[u8]> = vec![b"a", b"zz", b"b", b"a"];
    let answer = |cache: &mut ReadCache, shape| {
        String::from_utf8(
            read_into(cache, &keys, shape, Layout::Answer, Some(&engine))
                .unwrap()
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(answer(&mut cache, Shape::Positional), "{\"items\":[{\"value\":1,\"revision\":1},null,{\"value\":\"two\",\"revision\":2},{\"value\":1,\"revision\":1}]}");
    assert_eq!(fetched.get(), 2, "zz and b from the engine");
    assert_eq!(answer(&mut cache, Shape::Keyed), "{\"items\":[{\"key\":\"a\",\"value\":1,\"revision\":1},{\"key\":\"b\",\"value\":\"two\",\"revision\":2},{\"key\":\"a\",\"value\":1,\"revision\":1}]}");
    assert_eq!(
        fetched.get(),
        3,
        "b was filled: only the absent zz asked again"
    );
    let packed = read_into(
        &mut cache,
        &[b"zz", b"b"],
        Shape::Positional,
        Layout::Packed,
        Some(&engine),
    )
    .unwrap()
    .unwrap();
    let item = "{\"value\":\"two\",\"revision\":2}";
    let mut want = (-1i32).to_le_bytes().to_vec();
    want.extend_from_slice(&(item.len() as i32).to_le_bytes());
    want.extend_from_slice(item.as_bytes());
    assert_eq!(packed, want);
    assert_eq!(
        read_into(&mut cache, &[b"zz"], Shape::Keyed, Layout::Answer, None).unwrap(),
        None,
        "a miss waits while engine reads may not run"
    );
    assert_eq!(
        read_into(&mut cache, &[b"a"], Shape::Keyed, Layout::Answer, None)
            .unwrap()
            .as_deref(),
        Some(&b"{\"items\":[{\"key\":\"a\",\"value\":1,\"revision\":1}]}"[..]),
        "hits need no engine"
    );
    assert_eq!(
        String::from_utf8(
            read_into(&mut cache, &[], Shape::Keyed, Layout::Answer, None)
                .unwrap()
                .unwrap()
        )
        .unwrap(),
        "{\"items\":[]}"
    );
}

#[test]
fn a_key_cached_when_looked_up_is_answered_even_if_fills_overflow_the_cache_and_columns_list_every_key(
) {
    use engine::read_cache::{read_into, Layout};
    let engine = |keys: &[&[u8]]| {
        Ok(keys
            .iter()
            .map(|k| match *k {
                b"a" => Some(stored(7, "{\"x\":[1,2]}")),
                b"b" => Some(stored(8, "\"two\"")),
                b"c" => Some(stored(9, "null")),
                _ => None,
            })
            .collect())
    };
    // Room for one entry, holding a: filling b and c from the engine overflows it.
    let fresh = || {
        let mut cache = ReadCache::new(1, 1 << 20);
        cache
            .applied(&batch(&[("a", Some(stored(7, "{\"x\":[1,2]}")))]))
            .unwrap();
        cache
    };
    let keys: &[&[u8]] = &[b"a", b"zz", b"b", b"c", b"a"];
    let answer = |cache: &mut ReadCache, keys: &[&[u8]], layout| {
        String::from_utf8(
            read_into(cache, keys, Shape::Positional, layout, Some(&engine))
                .unwrap()
                .unwrap(),
        )
        .unwrap()
    };
    let mut cache = fresh();
    assert_eq!(
        answer(&mut cache, keys, Layout::Answer),
        "{\"items\":[{\"value\":{\"x\":[1,2]},\"revision\":7},null,{\"value\":\"two\",\"revision\":8},{\"value\":null,\"revision\":9},{\"value\":{\"x\":[1,2]},\"revision\":7}]}",
        "a was a hit: the fills may not evict it before its item is written"
    );
    assert!(cache.len() <= 1, "back under the limit once answered");
    let mut cache = fresh();
    assert_eq!(
        answer(&mut cache, keys, Layout::Columns),
        "{\"values\":[{\"x\":[1,2]},null,\"two\",null,{\"x\":[1,2]}],\"revisions\":[7,null,8,9,7]}",
        "a stored null value keeps its revision; an absent key has none"
    );
    assert!(cache.len() <= 1);
    assert_eq!(
        answer(&mut cache, &[], Layout::Columns),
        "{\"values\":[],\"revisions\":[]}"
    );
    let mut short = ReadCache::new(10, 1 << 20);
    short
        .applied(&batch(&[("k", Some(vec![1, 2, 3]))]))
        .unwrap();
    assert!(
        read_into(&mut short, &[b"k"], Shape::Keyed, Layout::Columns, None).is_err(),
        "a stored value without its revision is corruption, not an answer"
    );
}
