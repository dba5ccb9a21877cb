//! Stored books, delta records and prices from arbitrary and damaged bytes: a clean error or a
//! value, never a panic.
use market::{parse_price, Book, Delta};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        (0..self.below(max)).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn decoders_survive_arbitrary_input() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let (mut ok, mut refused) = (0u32, 0u32);
    for _ in 0..50_000 {
        let b = rng.bytes(200);
        for result in [Book::decode(&b).map(|_| ()), Delta::decode(&b).map(|_| ())] {
            if result.is_ok() {
                ok += 1;
            } else {
                refused += 1;
            }
        }
        let text: String = String::from_utf8_lossy(&rng.bytes(24)).into_owned();
        let _ = parse_price(&text);
        let digits: String = (0..rng.below(30))
            .map(|_| b"0123456789.-e+ "[rng.below(15)] as char)
            .collect();
        let _ = parse_price(&digits);
    }
    assert_eq!(ok + refused, 100_000);
}
