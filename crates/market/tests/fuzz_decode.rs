//! Stored books, delta records and prices from arbitrary and damaged bytes: a clean error or a
//! value, never a panic.
use market::{parse_price, Book, Delta};

/// Up to `max` - 1 random bytes.
fn rng_bytes(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
    (0..rng.usize(..max)).map(|_| rng.u8(..)).collect()
}

#[test]
fn decoders_survive_arbitrary_input() {
    let mut rng = fastrand::Rng::with_seed(0xdead_beef_cafe_f00d);
    let (mut ok, mut refused) = (0u32, 0u32);
    for _ in 0..50_000 {
        let b = rng_bytes(&mut rng, 200);
        for result in [Book::decode(&b).map(|_| ()), Delta::decode(&b).map(|_| ())] {
            if result.is_ok() {
                ok += 1;
            } else {
                refused += 1;
            }
        }
        let text: String = String::from_utf8_lossy(&rng_bytes(&mut rng, 24)).into_owned();
        let _ = parse_price(&text);
        let digits: String = (0..rng.usize(..30))
            .map(|_| b"0123456789.-e+ "[rng.usize(..15)] as char)
            .collect();
        let _ = parse_price(&digits);
    }
    assert_eq!(ok + refused, 100_000);
}
