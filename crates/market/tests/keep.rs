//! `keep`: one committed batch made ready to apply (exactly-once, ids and seqs, gaps, blocks).

use market::{
    keep, GapFound, KeepInput, MarketError, ProducerMark, Venues, DELTA_BYTES, F_MAYBE_BAD_BOOK,
};

/// A packed record as the API writes it: `symbol` and `producer` are table indices.
fn record(
    symbol: u32,
    producer: u32,
    producer_seq: u64,
    publisher: u32,
    venue_seq: u64,
) -> [u8; DELTA_BYTES] {
    let mut r = [0u8; DELTA_BYTES];
    r[0] = 1;
    r[1] = 1;
    r[2] = 1;
    r[4..8].copy_from_slice(&symbol.to_le_bytes());
    r[8..12].copy_from_slice(&publisher.to_le_bytes());
    r[24..32].copy_from_slice(&producer_seq.to_le_bytes());
    r[64..72].copy_from_slice(&venue_seq.to_le_bytes());
    r[80..84].copy_from_slice(&producer.to_le_bytes());
    r[88..96].copy_from_slice(&producer_seq.to_le_bytes());
    r
}

fn field(r: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(r[at..at + 8].try_into().unwrap())
}

fn instrument(r: &[u8]) -> u32 {
    u32::from_le_bytes(r[4..8].try_into().unwrap())
}

const BASE: u64 = 9 << 16;

/// The producers' ids by table index in `batch`.
const PRODUCER_IDS: [u32; 4] = [70, 71, 72, 73];

fn producer(r: &[u8]) -> u32 {
    u32::from_le_bytes(r[80..84].try_into().unwrap())
}

/// A batch at seq base `BASE`.
fn batch<'a>(
    records: &'a [u8],
    instrument_ids: &'a [u32],
    high_water: &'a [Option<u64>],
) -> KeepInput<'a> {
    KeepInput {
        records,
        instrument_ids,
        high_water,
        producer_ids: &PRODUCER_IDS[..high_water.len()],
        seq_base: BASE,
    }
}

#[test]
fn duplicates_are_dropped_against_the_state_and_within_the_batch() {
    let records: Vec<u8> = [
        record(0, 0, 4, 0, 0),
        record(1, 0, 6, 0, 0),
        record(0, 1, 1, 0, 0),
        record(0, 0, 6, 0, 0),
        record(1, 0, 7, 0, 0),
    ]
    .concat();
    let input = batch(&records, &[30, 40], &[Some(5), None]);
    let kept = keep(&input, &mut Venues::default()).unwrap();
    let seqs: Vec<u64> = kept
        .records
        .chunks_exact(DELTA_BYTES)
        .map(|r| field(r, 72))
        .collect();
    // Kept: positions 1, 2 and 4 (4 ≤ 5 is old; the second 6 repeats the first).
    assert_eq!(seqs, vec![BASE | 1, BASE | 2, BASE | 4]);
    let ids: Vec<u32> = kept
        .records
        .chunks_exact(DELTA_BYTES)
        .map(instrument)
        .collect();
    assert_eq!(ids, vec![40, 30, 40]);
    let producers: Vec<u32> = kept
        .records
        .chunks_exact(DELTA_BYTES)
        .map(producer)
        .collect();
    assert_eq!(
        producers,
        vec![70, 71, 70],
        "table indices become producer ids"
    );
    assert_eq!(
        kept.producers,
        vec![
            ProducerMark {
                producer: 0,
                high_water: 7,
                first_seq: BASE | 1,
                last_seq: BASE | 4
            },
            ProducerMark {
                producer: 1,
                high_water: 1,
                first_seq: BASE | 2,
                last_seq: BASE | 2
            },
        ]
    );
}

#[test]
fn kept_records_are_grouped_by_instrument_in_order_of_first_appearance() {
    let records: Vec<u8> = (0..7u64)
        .map(|i| record([1, 0, 1, 2, 0, 1, 2][i as usize], 0, i + 1, 0, 0))
        .collect::<Vec<_>>()
        .concat();
    let input = batch(&records, &[5, 6, 7], &[None]);
    let kept = keep(&input, &mut Venues::default()).unwrap();
    assert_eq!(kept.groups, vec![(6, 3), (5, 2), (7, 2)]);
    let order: Vec<(u32, u64)> = kept
        .blocks
        .chunks_exact(DELTA_BYTES)
        .map(|r| (instrument(r), field(r, 72) - BASE))
        .collect();
    assert_eq!(
        order,
        vec![(6, 0), (6, 2), (6, 5), (5, 1), (5, 4), (7, 3), (7, 6)]
    );
}

#[test]
fn a_venue_seq_that_skips_ahead_is_a_gap_and_flags_its_record() {
    let mut venues = Venues::default();
    venues.set(2, 30, 10);
    // 11 follows 10; 15 skips 12..=14; 13 is behind (ignored); a new (publisher, instrument) starts anywhere.
    let records: Vec<u8> = [
        record(0, 0, 1, 2, 11),
        record(0, 0, 2, 2, 15),
        record(0, 0, 3, 2, 13),
        record(0, 0, 4, 3, 100),
        record(0, 0, 5, 0, 0),
    ]
    .concat();
    let input = batch(&records, &[30], &[None]);
    let kept = keep(&input, &mut venues).unwrap();
    assert_eq!(
        kept.gaps,
        vec![GapFound {
            symbol: 0,
            publisher: 2,
            from: 12,
            to: 14,
            seq: BASE | 1
        }]
    );
    let flagged: Vec<bool> = kept
        .records
        .chunks_exact(DELTA_BYTES)
        .map(|r| r[3] & F_MAYBE_BAD_BOOK != 0)
        .collect();
    assert_eq!(flagged, vec![false, true, false, false, false]);
    assert_eq!(kept.venue_marks, vec![(2, 30, 15), (3, 30, 100)]);
    // The marks carry to the next batch: 16 follows 15.
    let next = record(0, 0, 6, 2, 16);
    let input = KeepInput {
        records: &next,
        instrument_ids: &[30],
        high_water: &[Some(5)],
        producer_ids: &[3],
        seq_base: BASE + (1 << 16),
    };
    assert!(keep(&input, &mut venues).unwrap().gaps.is_empty());
}

#[test]
fn a_record_outside_the_tables_is_a_corrupt_batch() {
    let records = record(3, 0, 1, 0, 0);
    let input = batch(&records, &[1], &[None]);
    assert!(matches!(
        keep(&input, &mut Venues::default()),
        Err(MarketError::Corrupt(_))
    ));
    let input = batch(&records[..50], &[1], &[None]);
    assert!(matches!(
        keep(&input, &mut Venues::default()),
        Err(MarketError::Corrupt(_))
    ));
    let records = record(0, 0, 1, 0, 0);
    let mut input = batch(&records, &[1], &[None]);
    input.producer_ids = &[];
    assert!(matches!(
        keep(&input, &mut Venues::default()),
        Err(MarketError::Corrupt(_))
    ));
}
