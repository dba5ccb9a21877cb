//! Range reads against a model: pages in both directions and bounded counts, over random
//! ranges of random keys (with 0x00 and 0xff bytes, which sit at the bounds' edges).

use engine::{encode_put, Engine, EngineOptions, RangeCount, ScanRequest};

const ALPHABET: &[u8] = &[0x00, b'a', b'b', b'c', 0xff];

fn random_key(rng: &mut fastrand::Rng) -> Vec<u8> {
    (0..rng.usize(1..5))
        .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
        .collect()
}

/// An engine holding `n` random keys, and those keys sorted (the model).
fn store(rng: &mut fastrand::Rng, n: usize) -> (tempfile::TempDir, Engine, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut keys: Vec<Vec<u8>> = (0..n).map(|_| random_key(rng)).collect();
    keys.sort();
    keys.dedup();
    let mut batch = Vec::new();
    for k in &keys {
        encode_put(&mut batch, k, &[k.len() as u8]);
    }
    engine.apply(&batch, 1).unwrap();
    (dir, engine, keys)
}

/// A random prefix or `[start, end)` (end sometimes open), with the model's answer, ascending.
fn random_range(rng: &mut fastrand::Rng, keys: &[Vec<u8>]) -> (ScanRequest, Vec<Vec<u8>>) {
    let mut req = ScanRequest::default();
    let want: Vec<Vec<u8>> = if rng.bool() {
        let prefix = random_key(rng)[..1].to_vec();
        req.prefix = Some(prefix.clone());
        keys.iter()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    } else {
        req.start = random_key(rng);
        req.end = rng.bool().then(|| random_key(rng));
        let in_range = |k: &Vec<u8>| *k >= req.start && req.end.as_ref().is_none_or(|e| k < e);
        keys.iter().filter(|k| in_range(k)).cloned().collect()
    };
    (req, want)
}

/// Every page of `req` from its first, following `after`.
fn read_all(engine: &Engine, mut req: ScanRequest) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        let page = engine.scan(&req).unwrap();
        assert!(page.items.len() <= req.limit);
        for (k, v) in &page.items {
            assert_eq!(v, &[k.len() as u8], "a value belongs to its key");
        }
        got.extend(page.items.iter().map(|(k, _)| k.clone()));
        if !page.more {
            return got;
        }
        req.after = Some(got.last().expect("a page with more holds an item").clone());
    }
}

#[test]
fn pages_in_either_direction_hold_exactly_the_range() {
    let mut rng = fastrand::Rng::with_seed(7);
    let (_dir, engine, keys) = store(&mut rng, 400);
    for _ in 0..300 {
        let (mut req, want) = random_range(&mut rng, &keys);
        req.limit = rng.usize(1..20);
        assert_eq!(read_all(&engine, req.clone()), want, "ascending {req:?}");
        req.reverse = true;
        let mut down = want.clone();
        down.reverse();
        assert_eq!(read_all(&engine, req.clone()), down, "descending {req:?}");
    }
}

#[test]
fn a_reverse_page_after_a_key_starts_just_below_it() {
    let mut rng = fastrand::Rng::with_seed(11);
    let (_dir, engine, keys) = store(&mut rng, 200);
    for _ in 0..200 {
        // Also keys that are not stored, and keys outside the range.
        let after = random_key(&mut rng);
        let req = ScanRequest {
            after: Some(after.clone()),
            limit: 3,
            reverse: true,
            ..Default::default()
        };
        let want: Vec<Vec<u8>> = keys
            .iter()
            .rev()
            .filter(|k| **k < after)
            .take(3)
            .cloned()
            .collect();
        let got: Vec<Vec<u8>> = engine
            .scan(&req)
            .unwrap()
            .items
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(got, want, "after {after:?}");
    }
}

#[test]
fn counts_equal_the_model_and_a_bounded_count_continues_after_its_last_key() {
    let mut rng = fastrand::Rng::with_seed(3);
    let (_dir, engine, keys) = store(&mut rng, 400);
    for _ in 0..300 {
        let (mut req, want) = random_range(&mut rng, &keys);
        req.limit = usize::MAX;
        assert_eq!(
            engine.count(&req).unwrap(),
            RangeCount {
                count: want.len() as u64,
                more: false,
                last: want.last().cloned()
            }
        );
        // In steps of `limit`: each part counts up to the bound and says where it stopped.
        req.limit = rng.usize(1..30);
        let mut total = 0u64;
        loop {
            let part = engine.count(&req).unwrap();
            assert!(part.count as usize <= req.limit);
            total += part.count;
            if !part.more {
                break;
            }
            assert_eq!(part.last.as_ref(), Some(&want[total as usize - 1]));
            req.after = part.last;
        }
        assert_eq!(total, want.len() as u64);
    }
    assert!(
        engine.count(&ScanRequest::default()).is_err(),
        "a zero limit is refused"
    );
}

#[test]
fn a_value_prefix_cuts_each_value_and_keeps_shorter_ones_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &EngineOptions::default()).unwrap();
    let mut batch = Vec::new();
    encode_put(&mut batch, b"a", b"0123456789");
    encode_put(&mut batch, b"b", b"0123");
    engine.apply(&batch, 1).unwrap();
    for reverse in [false, true] {
        let req = ScanRequest {
            limit: 10,
            value_prefix_bytes: Some(8),
            reverse,
            ..Default::default()
        };
        let mut got = engine.scan(&req).unwrap().items;
        got.sort();
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), b"01234567".to_vec()),
                (b"b".to_vec(), b"0123".to_vec())
            ]
        );
    }
}
