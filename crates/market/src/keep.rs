//! One committed ingest batch made ready to apply, in one pass over its records: duplicates
//! dropped (exactly-once per producer), instrument ids and seqs written, venueSeq gaps found and
//! flagged, and the kept records grouped by instrument for storage (one block per instrument).
//!
//! Deterministic: the same batch, seq base and state give the same answer on every replica.
//! Records arrive as the API packed them: the instrument field holds an index into the batch's
//! symbol table, the producer field an index into its producer table (distinct producers); kept
//! records leave with the instrument's and the producer's ids in those fields.

use std::collections::HashMap;

use crate::error::{MarketError, Result};
use crate::record::{DELTA_BYTES, F_MAYBE_BAD_BOOK};

const AT_FLAGS: usize = 3;
const AT_INSTRUMENT: usize = 4;
const AT_PUBLISHER: usize = 8;
const AT_VENUE_SEQ: usize = 64;
const AT_SEQ: usize = 72;
const AT_PRODUCER: usize = 80;
const AT_PRODUCER_SEQ: usize = 88;

/// Positions in a batch are the low 16 bits of a seq (`raft index × 2^16 + position`).
pub const RECORDS_PER_BATCH_MAX: usize = 1 << 16;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The last venueSeq seen per (publisher, instrument id): gap detection across batches.
#[derive(Default)]
pub struct Venues {
    last: HashMap<(u32, u32), u64>,
}

impl Venues {
    pub fn set(&mut self, publisher: u32, instrument: u32, venue_seq: u64) {
        self.last.insert((publisher, instrument), venue_seq);
    }

    pub fn clear(&mut self) {
        self.last.clear();
    }
}

/// A producer's marks after the batch (only producers with a kept record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerMark {
    /// Its index in the batch's producer table.
    pub producer: u32,
    pub high_water: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// A venueSeq that skipped ahead: `from..=to` are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapFound {
    /// Its instrument's index in the batch's symbol table.
    pub symbol: u32,
    pub publisher: u32,
    pub from: u64,
    pub to: u64,
    /// The seq of the record that revealed it.
    pub seq: u64,
}

#[derive(Debug, Default)]
pub struct Kept {
    /// The kept records in batch order, ids and seqs written.
    pub records: Vec<u8>,
    /// The same records grouped by instrument (instruments in order of first appearance,
    /// records in batch order within each): `groups` says where each block starts.
    pub blocks: Vec<u8>,
    /// (instrument id, record count), in the order of `blocks`.
    pub groups: Vec<(u32, u32)>,
    /// In order of each producer's first kept record.
    pub producers: Vec<ProducerMark>,
    /// (publisher, instrument id, venueSeq): the high-water marks this batch raised, in order
    /// of first change; the last value of the batch.
    pub venue_marks: Vec<(u32, u32, u64)>,
    pub gaps: Vec<GapFound>,
}

/// The batch's tables, resolved against the state before the batch.
pub struct KeepInput<'a> {
    pub records: &'a [u8],
    /// Instrument id per entry of the batch's symbol table.
    pub instrument_ids: &'a [u32],
    /// The applied high-water producerSeq per entry of its producer table (None: a new producer).
    pub high_water: &'a [Option<u64>],
    /// The producer's id per entry of its producer table (as long as `high_water`).
    pub producer_ids: &'a [u32],
    /// The seq of the batch's first position: `raft index × 2^16`.
    pub seq_base: u64,
}

/// Drops duplicates, assigns ids and seqs, detects gaps (updating `venues`), groups by instrument.
pub fn keep(input: &KeepInput, venues: &mut Venues) -> Result<Kept> {
    let corrupt = |what: String| MarketError::Corrupt(format!("committed batch: {what}"));
    if !input.records.len().is_multiple_of(DELTA_BYTES) {
        return Err(corrupt(format!(
            "{} bytes is not whole records",
            input.records.len()
        )));
    }
    let count = input.records.len() / DELTA_BYTES;
    if count > RECORDS_PER_BATCH_MAX || input.seq_base & (RECORDS_PER_BATCH_MAX as u64 - 1) != 0 {
        return Err(corrupt(format!(
            "{count} records at seq base {}",
            input.seq_base
        )));
    }
    if input.producer_ids.len() != input.high_water.len() {
        return Err(corrupt(format!(
            "{} producer ids for {} producers",
            input.producer_ids.len(),
            input.high_water.len()
        )));
    }
    let mut kept = Kept {
        records: Vec::with_capacity(input.records.len()),
        ..Kept::default()
    };
    // Per producer index: its position in `kept.producers`.
    let mut touched: Vec<Option<usize>> = vec![None; input.high_water.len()];
    let mut venue_changed: HashMap<(u32, u32), usize> = HashMap::new();
    for (i, src) in input.records.chunks_exact(DELTA_BYTES).enumerate() {
        let producer = u32_at(src, AT_PRODUCER) as usize;
        let symbol = u32_at(src, AT_INSTRUMENT);
        let (Some(&high_water), Some(&id)) = (
            input.high_water.get(producer),
            input.instrument_ids.get(symbol as usize),
        ) else {
            return Err(corrupt(format!(
                "record {i}: producer {producer} or symbol {symbol} outside the tables"
            )));
        };
        let mark = touched[producer].map(|at| kept.producers[at].high_water);
        let producer_seq = u64_at(src, AT_PRODUCER_SEQ);
        if mark.or(high_water).is_some_and(|hw| producer_seq <= hw) {
            continue;
        }
        let seq = input.seq_base | i as u64;
        let at = kept.records.len();
        kept.records.extend_from_slice(src);
        let rec = &mut kept.records[at..at + DELTA_BYTES];
        rec[AT_INSTRUMENT..AT_INSTRUMENT + 4].copy_from_slice(&id.to_le_bytes());
        rec[AT_PRODUCER..AT_PRODUCER + 4]
            .copy_from_slice(&input.producer_ids[producer].to_le_bytes());
        rec[AT_SEQ..AT_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
        if let Some(gap) = check_venue_seq(
            rec,
            symbol,
            seq,
            venues,
            &mut venue_changed,
            &mut kept.venue_marks,
        ) {
            kept.gaps.push(gap);
        }
        match touched[producer] {
            Some(at) => {
                kept.producers[at].high_water = producer_seq;
                kept.producers[at].last_seq = seq;
            }
            None => {
                touched[producer] = Some(kept.producers.len());
                kept.producers.push(ProducerMark {
                    producer: producer as u32,
                    high_water: producer_seq,
                    first_seq: seq,
                    last_seq: seq,
                });
            }
        }
    }
    group_by_instrument(&mut kept);
    Ok(kept)
}

/// Tracks the record's venueSeq (0: none); a skip ahead is a gap and flags the record.
fn check_venue_seq(
    rec: &mut [u8],
    symbol: u32,
    seq: u64,
    venues: &mut Venues,
    changed: &mut HashMap<(u32, u32), usize>,
    marks: &mut Vec<(u32, u32, u64)>,
) -> Option<GapFound> {
    let venue_seq = u64_at(rec, AT_VENUE_SEQ);
    if venue_seq == 0 {
        return None;
    }
    let key = (u32_at(rec, AT_PUBLISHER), u32_at(rec, AT_INSTRUMENT));
    let last = venues.last.get(&key).copied();
    if last.is_some_and(|l| venue_seq <= l) {
        return None;
    }
    venues.last.insert(key, venue_seq);
    match changed.get(&key) {
        Some(&at) => marks[at].2 = venue_seq,
        None => {
            changed.insert(key, marks.len());
            marks.push((key.0, key.1, venue_seq));
        }
    }
    let last = last?;
    if venue_seq == last + 1 {
        return None;
    }
    rec[AT_FLAGS] |= F_MAYBE_BAD_BOOK;
    Some(GapFound {
        symbol,
        publisher: key.0,
        from: last + 1,
        to: venue_seq - 1,
        seq,
    })
}

/// Fills `blocks` and `groups` from `records`: a count per instrument, then one copy per record.
fn group_by_instrument(kept: &mut Kept) {
    let mut slot: HashMap<u32, usize> = HashMap::new();
    for rec in kept.records.chunks_exact(DELTA_BYTES) {
        let id = u32_at(rec, AT_INSTRUMENT);
        let at = *slot.entry(id).or_insert_with(|| {
            kept.groups.push((id, 0));
            kept.groups.len() - 1
        });
        kept.groups[at].1 += 1;
    }
    // Each group's next write position in `blocks`.
    let mut next: Vec<usize> = Vec::with_capacity(kept.groups.len());
    let mut start = 0;
    for &(_, n) in &kept.groups {
        next.push(start);
        start += n as usize * DELTA_BYTES;
    }
    kept.blocks = vec![0; kept.records.len()];
    for rec in kept.records.chunks_exact(DELTA_BYTES) {
        let g = slot[&u32_at(rec, AT_INSTRUMENT)];
        kept.blocks[next[g]..next[g] + DELTA_BYTES].copy_from_slice(rec);
        next[g] += DELTA_BYTES;
    }
}
