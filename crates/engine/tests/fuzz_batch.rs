//! Batch decoding on arbitrary and damaged bytes: a clean error or ops, never a panic, and
//! whatever decodes re-encodes to the same bytes.
use engine::{decode_batch, encode_delete, encode_delete_range, encode_put, encode_uncache, Op};

#[test]
fn decode_batch_survives_arbitrary_and_damaged_input() {
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    let mut valid = Vec::new();
    encode_put(&mut valid, b"key", br#"{"v":1}"#);
    encode_delete(&mut valid, b"gone");
    encode_delete_range(&mut valid, b"p/", b"p/z");
    encode_uncache(&mut valid, b"p/a");
    let (mut decoded, mut refused) = (0, 0);
    for case in 0..100_000 {
        let buf: Vec<u8> = if case % 2 == 0 {
            (0..rng.usize(..64)).map(|_| rng.u8(..)).collect()
        } else {
            let mut b = valid.clone();
            let at = rng.usize(..b.len());
            b[at] = rng.u8(..);
            b.truncate(rng.usize(..=b.len()));
            b
        };
        match decode_batch(&buf) {
            Ok(ops) => {
                let mut again = Vec::new();
                for op in ops {
                    match op {
                        Op::Put(k, v) => encode_put(&mut again, k, v),
                        Op::Delete(k) => encode_delete(&mut again, k),
                        Op::DeleteRange(a, b) => encode_delete_range(&mut again, a, b),
                        Op::Uncache(k) => encode_uncache(&mut again, k),
                    }
                }
                assert_eq!(again, buf);
                decoded += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert_eq!(decoded + refused, 100_000);
    assert!(decoded > 0 && refused > 0);
}
