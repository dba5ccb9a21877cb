use engine::{encode_delete, encode_put, Engine, EngineOptions, ScanRequest};

fn put_batch(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        encode_put(&mut out, k.as_bytes(), v.as_bytes());
    }
    out
}

#[test]
fn apply_then_reopen_returns_the_applied_index_and_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
        assert_eq!(engine.applied_index(), 0);
        engine
            .apply(&put_batch(&[("a", "1"), ("b", "2")]), 5)
            .unwrap();
        let mut del = Vec::new();
        encode_delete(&mut del, b"a");
        engine.apply(&del, 6).unwrap();
        engine.flush().unwrap();
    }
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    assert_eq!(engine.applied_index(), 6);
    assert_eq!(engine.get(b"a").unwrap(), None);
    assert_eq!(engine.get(b"b").unwrap(), Some(b"2".to_vec()));
}

#[test]
fn apply_must_move_forward_and_malformed_batches_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    engine.apply(&put_batch(&[("k", "v")]), 3).unwrap();
    assert_eq!(
        engine
            .apply(&put_batch(&[("k", "old")]), 3)
            .unwrap_err()
            .code(),
        "ENGINE_APPLY_ORDER"
    );
    let mut bad = put_batch(&[("x", "1")]);
    bad.extend_from_slice(&[1, 200, 0, 0, 0]); // a put whose key runs past the end
    assert_eq!(
        engine.apply(&bad, 4).unwrap_err().code(),
        "ENGINE_INVALID_ARGUMENT"
    );
    assert_eq!(
        engine.get(b"x").unwrap(),
        None,
        "nothing of a malformed batch is applied"
    );
    assert_eq!(engine.applied_index(), 3);
    assert_eq!(engine.get(b"k").unwrap(), Some(b"v".to_vec()));
}

/// The engine writes a batch in key order (see `apply_opt`); ops on one key must still apply in
/// the order given: the last one wins, whether put or delete.
#[test]
fn ops_on_one_key_apply_in_their_order_whatever_the_key_order_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut batch = Vec::new();
    encode_put(&mut batch, b"z", b"1");
    encode_put(&mut batch, b"m", b"1");
    encode_delete(&mut batch, b"z");
    encode_put(&mut batch, b"a", b"1");
    encode_put(&mut batch, b"m", b"2");
    encode_delete(&mut batch, b"a");
    encode_put(&mut batch, b"a", b"3");
    encode_put(&mut batch, b"m", b"0");
    engine.apply(&batch, 1).unwrap();
    let got = engine.multi_get(&[b"a", b"m", b"z"]).unwrap();
    assert_eq!(got, vec![Some(b"3".to_vec()), Some(b"0".to_vec()), None]);
}

#[test]
fn multi_get_returns_values_in_key_order_with_misses() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    engine
        .apply(&put_batch(&[("a", "1"), ("c", "3")]), 1)
        .unwrap();
    let got = engine.multi_get(&[b"c", b"b", b"a"]).unwrap();
    assert_eq!(got, vec![Some(b"3".to_vec()), None, Some(b"1".to_vec())]);
}

#[test]
fn scan_pages_through_a_prefix_and_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let keys: Vec<String> = (0..25).map(|i| format!("user/{i:03}")).collect();
    let mut batch = Vec::new();
    for k in &keys {
        encode_put(&mut batch, k.as_bytes(), b"v");
    }
    encode_put(&mut batch, b"other", b"v");
    encode_put(&mut batch, b"usex", b"v");
    engine.apply(&batch, 1).unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let req = ScanRequest {
            prefix: Some(b"user/".to_vec()),
            after: after.clone(),
            limit: 10,
            ..Default::default()
        };
        let page = engine.scan(&req).unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|(k, _)| String::from_utf8(k.clone()).unwrap()),
        );
        if !page.more {
            break;
        }
        after = page.items.last().map(|(k, _)| k.clone());
    }
    assert_eq!(seen, keys);

    let range = ScanRequest {
        start: b"user/010".to_vec(),
        end: Some(b"user/013".to_vec()),
        limit: 100,
        ..Default::default()
    };
    let page = engine.scan(&range).unwrap();
    let got: Vec<_> = page
        .items
        .iter()
        .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
        .collect();
    assert_eq!(got, vec!["user/010", "user/011", "user/012"]);
    assert!(!page.more);
    assert_eq!(
        engine
            .scan(&ScanRequest {
                limit: 0,
                ..Default::default()
            })
            .unwrap_err()
            .code(),
        "ENGINE_INVALID_ARGUMENT"
    );
}

#[test]
fn scan_pages_bounded_by_bytes_hold_at_least_one_item() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut batch = Vec::new();
    for (k, len) in [("b/1", 100), ("b/2", 100), ("b/3", 400), ("b/4", 100)] {
        encode_put(&mut batch, k.as_bytes(), &vec![b'x'; len]);
    }
    engine.apply(&batch, 1).unwrap();
    let page = |after: Option<&str>, bytes_max| {
        let req = ScanRequest {
            prefix: Some(b"b/".to_vec()),
            after: after.map(|a| a.as_bytes().to_vec()),
            limit: 10,
            bytes_max: Some(bytes_max),
            ..Default::default()
        };
        let page = engine.scan(&req).unwrap();
        let keys: Vec<_> = page
            .items
            .iter()
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect();
        (keys, page.more)
    };
    // Stops before an item would pass the bound...
    assert_eq!(page(None, 250), (vec!["b/1".into(), "b/2".into()], true));
    assert_eq!(page(None, 200), (vec!["b/1".into(), "b/2".into()], true));
    // ...but a page holds at least one item, however large.
    assert_eq!(page(Some("b/2"), 250), (vec!["b/3".into()], true));
    assert_eq!(page(Some("b/3"), 50), (vec!["b/4".into()], false));
}

#[test]
fn checkpoint_then_open_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let cp = dir.path().join("cp");
    let engine = Engine::open(&db, &EngineOptions::default()).unwrap();
    engine.apply(&put_batch(&[("snap", "shot")]), 42).unwrap();
    assert_eq!(engine.checkpoint(&cp).unwrap(), 42);
    engine.apply(&put_batch(&[("later", "x")]), 43).unwrap();
    drop(engine);
    let restored =
        Engine::open_from_checkpoint(&cp, &dir.path().join("restored"), &EngineOptions::default())
            .unwrap();
    assert_eq!(restored.applied_index(), 42);
    assert_eq!(restored.get(b"snap").unwrap(), Some(b"shot".to_vec()));
    assert_eq!(restored.get(b"later").unwrap(), None);
}

#[test]
fn state_digest_depends_on_state_not_layout() {
    let dir = tempfile::tempdir().unwrap();
    let a = Engine::open(&dir.path().join("a"), &EngineOptions::default()).unwrap();
    let b = Engine::open(&dir.path().join("b"), &EngineOptions::default()).unwrap();
    // The same state reached in different batches (and one side flushed to SSTs).
    a.apply(&put_batch(&[("k1", "v1"), ("k2", "v2")]), 5)
        .unwrap();
    b.apply(&put_batch(&[("k2", "v2")]), 4).unwrap();
    b.flush().unwrap();
    b.apply(&put_batch(&[("k1", "v1")]), 5).unwrap();
    assert_eq!(a.state_digest().unwrap(), b.state_digest().unwrap());
    assert_eq!(a.state_digest().unwrap().0, 5);
    // A different value, or the same data at another index, differ.
    b.apply(&put_batch(&[("k1", "v9")]), 6).unwrap();
    assert_ne!(a.state_digest().unwrap().1, b.state_digest().unwrap().1);
    a.apply(&put_batch(&[]), 6).unwrap();
    a.apply(&put_batch(&[("k1", "v9")]), 7).unwrap();
    assert_ne!(a.state_digest().unwrap().1, b.state_digest().unwrap().1);
}

#[test]
fn a_keys_only_scan_leaves_every_value_empty() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut batch = Vec::new();
    for k in ["p/1", "p/2", "q/1"] {
        encode_put(&mut batch, k.as_bytes(), b"a value");
    }
    engine.apply(&batch, 1).unwrap();
    let req = ScanRequest {
        prefix: Some(b"p/".to_vec()),
        limit: 10,
        keys_only: true,
        ..Default::default()
    };
    let page = engine.scan(&req).unwrap();
    let items: Vec<_> = page
        .items
        .iter()
        .map(|(k, v)| (String::from_utf8(k.clone()).unwrap(), v.len()))
        .collect();
    assert_eq!(items, vec![("p/1".to_string(), 0), ("p/2".to_string(), 0)]);
    assert!(!page.more);
}

#[test]
fn a_range_delete_removes_its_range_only_and_later_puts_in_the_batch_survive() {
    use engine::{encode_delete_range, encode_uncache};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut batch = Vec::new();
    for k in ["p/a", "p/b", "p/c", "q/a"] {
        encode_put(&mut batch, k.as_bytes(), b"1");
    }
    engine.apply(&batch, 1).unwrap();
    let mut batch = Vec::new();
    // [p/, p/b\0): p/a and p/b; then p/a written again, after it in the same batch.
    encode_delete_range(&mut batch, b"p/", b"p/b\0");
    encode_uncache(&mut batch, b"p/a");
    encode_put(&mut batch, b"p/a", b"2");
    engine.apply(&batch, 2).unwrap();
    assert_eq!(engine.get(b"p/a").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(engine.get(b"p/b").unwrap(), None);
    assert!(engine.get(b"p/c").unwrap().is_some());
    assert!(engine.get(b"q/a").unwrap().is_some());
    let mut inverted = Vec::new();
    encode_delete_range(&mut inverted, b"p/z", b"p/a");
    assert_eq!(
        engine.apply(&inverted, 3).unwrap_err().code(),
        "ENGINE_INVALID_ARGUMENT"
    );
    assert_eq!(engine.applied_index(), 2, "a refused batch writes nothing");
}

#[test]
fn compacting_a_range_delete_frees_its_files_and_keeps_the_rest() {
    use engine::encode_delete_range;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let values = put_flushed_values(&engine, "e/", 1);
    let before = dir_bytes(dir.path());
    let mut batch = Vec::new();
    encode_delete_range(&mut batch, b"e/", b"e/001500");
    engine.apply(&batch, 5).unwrap();
    engine.compact_range(b"e/", b"e/001500").unwrap();
    let after = dir_bytes(dir.path());
    assert!(after * 2 < before, "{after} bytes after, {before} before");
    assert_eq!(engine.get(b"e/001499").unwrap(), None);
    assert_eq!(
        engine.get(b"e/001500").unwrap().as_deref(),
        Some(&values[1500][..])
    );
    assert_eq!(
        engine.compact_range(b"e/9", b"e/1").unwrap_err().code(),
        "ENGINE_INVALID_ARGUMENT"
    );
}

/// 2,000 incompressible 4 KiB values (the files are about their size) at `<prefix><i:06>`,
/// applied at indexes 1-4 in four flushed files.
fn put_flushed_values(engine: &Engine, prefix: &str, mut seed: u64) -> Vec<Vec<u8>> {
    let values: Vec<Vec<u8>> = (0..2000)
        .map(|_| {
            (0..4096)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 56) as u8
                })
                .collect()
        })
        .collect();
    for part in 0..4usize {
        let mut batch = Vec::new();
        for (i, v) in values.iter().enumerate().skip(part * 500).take(500) {
            encode_put(&mut batch, format!("{prefix}{i:06}").as_bytes(), v);
        }
        engine.apply(&batch, part as u64 + 1).unwrap();
        engine.flush().unwrap();
    }
    values
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[test]
fn compacting_everything_drops_deleted_values_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let values = put_flushed_values(&engine, "k/", 7);
    // Point deletes of three keys in four, in a file of their own: nothing is dropped until a
    // compaction merges the tombstones with the values they cover.
    let mut batch = Vec::new();
    for i in (0..2000).filter(|i| i % 4 != 0) {
        encode_delete(&mut batch, format!("k/{i:06}").as_bytes());
    }
    engine.apply(&batch, 5).unwrap();
    let unflushed = engine.sizes().unwrap().memtable_bytes;
    engine.flush().unwrap();
    assert!(unflushed > engine.sizes().unwrap().memtable_bytes);
    let before = engine.sizes().unwrap();
    assert!(before.live_sst_bytes > 2000 * 4096, "{before:?}");
    // The keys and values left (the meta family's applied index too), whatever the files hold.
    let live = engine.live_bytes().unwrap();
    assert!(
        (500 * (8 + 4096)..500 * (8 + 4096) + 1024).contains(&live),
        "{live}"
    );

    engine.compact_all().unwrap();
    let after = engine.sizes().unwrap();
    assert!(
        after.live_sst_bytes * 3 < before.live_sst_bytes,
        "{before:?} then {after:?}"
    );
    assert!(after.live_data_bytes >= 500 * 4096, "{after:?}");
    for (i, v) in values.iter().enumerate() {
        let got = engine.get(format!("k/{i:06}").as_bytes()).unwrap();
        assert_eq!(got.as_deref(), (i % 4 == 0).then_some(&v[..]), "key {i}");
    }
    assert_eq!(engine.applied_index(), 5);
}

#[test]
fn a_view_digests_the_state_it_was_taken_at_while_applies_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(Engine::open(dir.path(), &EngineOptions::default()).unwrap());
    engine
        .apply(&put_batch(&[("a", "1"), ("b", "2")]), 1)
        .unwrap();
    let (at, expected) = engine.state_digest().unwrap();
    let view = engine.view();
    engine
        .apply(&put_batch(&[("a", "3"), ("c", "4")]), 2)
        .unwrap();
    engine.flush().unwrap();
    engine.compact_all().unwrap();
    assert_eq!(
        (view.applied_index(), view.digest().unwrap()),
        (at, expected)
    );
    let (now, digest) = engine.state_digest().unwrap();
    assert_eq!(now, 2);
    assert_ne!(digest, expected);
    // The view keeps the database open after the engine's last other owner let go.
    drop(engine);
    assert_eq!(view.digest().unwrap(), expected);
}
