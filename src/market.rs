//! Order books for the applier: one `ingest` call per committed batch of market records (kept,
//! then applied; the records are validated whole first, so a batch applies entirely or not at
//! all), `applyBatch` for stored records rolled forward, books' stored forms for checkpoints, and
//! book views as JSON text.

use market_crate::{keep, Books, KeepInput, Kept, Venues};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::coded;

/// A row of `ingest`'s producer table: known u8, high water u64, id u32.
const PRODUCER_ROW_BYTES: usize = 13;

pub(crate) fn from_market(err: market_crate::MarketError) -> Error {
    coded(err.code(), err)
}

#[napi]
pub struct NativeBooks {
    books: Books,
    /// The last venueSeq per (publisher, instrument): gap detection for `ingest`.
    venues: Venues,
}

/// One committed batch, kept and applied (`ingest`). Little-endian tables, one row each:
#[napi(object)]
pub struct KeptBatch {
    /// The kept records in batch order (ids, seqs and gap flags written).
    pub records: Buffer,
    pub count: u32,
    /// The same records grouped by instrument, one block after another (see `groups`).
    pub blocks: Buffer,
    /// `(instrument id u32, records u32)` per block, in `blocks` order.
    pub groups: Buffer,
    /// `(producer index u32, high water u64, first seq u64, last seq u64)` per producer kept.
    pub producers: Buffer,
    /// `(publisher u32, instrument id u32, venueSeq u64)` per high-water mark raised.
    pub venue_marks: Buffer,
    /// `(symbol index u32, publisher u32, from u64, to u64, seq u64)` per gap found.
    pub gaps: Buffer,
}

fn rows<T>(items: &[T], write: impl Fn(&T, &mut Vec<u8>)) -> Buffer {
    let mut out = Vec::new();
    for item in items {
        write(item, &mut out);
    }
    Buffer::from(out)
}

fn to_js(kept: Kept) -> KeptBatch {
    let le = |out: &mut Vec<u8>, v: &[u8]| out.extend_from_slice(v);
    KeptBatch {
        count: (kept.records.len() / market_crate::DELTA_BYTES) as u32,
        groups: rows(&kept.groups, |(id, n), o| {
            le(o, &id.to_le_bytes());
            le(o, &n.to_le_bytes());
        }),
        producers: rows(&kept.producers, |p, o| {
            le(o, &p.producer.to_le_bytes());
            for v in [p.high_water, p.first_seq, p.last_seq] {
                le(o, &v.to_le_bytes());
            }
        }),
        venue_marks: rows(&kept.venue_marks, |(publisher, id, seq), o| {
            le(o, &publisher.to_le_bytes());
            le(o, &id.to_le_bytes());
            le(o, &seq.to_le_bytes());
        }),
        gaps: rows(&kept.gaps, |g, o| {
            le(o, &g.symbol.to_le_bytes());
            le(o, &g.publisher.to_le_bytes());
            for v in [g.from, g.to, g.seq] {
                le(o, &v.to_le_bytes());
            }
        }),
        records: Buffer::from(kept.records),
        blocks: Buffer::from(kept.blocks),
    }
}

#[napi]
impl NativeBooks {
    /// Books with at most `levelsMax` price levels per side.
    #[napi(constructor)]
    pub fn new(levels_max: u32) -> Result<NativeBooks> {
        if levels_max == 0 {
            return Err(coded("MD_INVALID", "levelsMax must be positive"));
        }
        Ok(NativeBooks {
            books: Books::new(levels_max as usize),
            venues: Venues::default(),
        })
    }

    /// Checks a packed batch of records; returns the record count.
    #[napi]
    pub fn validate(&self, packed: &[u8]) -> Result<u32> {
        Books::validate(packed)
            .map(|n| n as u32)
            .map_err(from_market)
    }

    /// Applies a packed batch; returns the instruments whose books changed (sorted).
    #[napi]
    pub fn apply_batch(&mut self, packed: &[u8]) -> Result<Vec<u32>> {
        let _timer = crate::metrics::APPLY_SECONDS
            .with_label_values(&["market"])
            .start_timer();
        self.books.apply_batch(packed).map_err(from_market)
    }

    /// Keeps a committed batch (see `crates/market/src/keep.rs`) and applies what it kept to the
    /// books, in one call. `instrumentIds`: the id of each entry of the batch's symbol table;
    /// `producers`: per entry of its producer table, `known u8`, the high water `u64`, then the
    /// producer's id `u32` (kept records carry it);
    /// `raftIndex`: the entry's index (seqs are `raftIndex × 2^16 + position`).
    #[napi]
    pub fn ingest(
        &mut self,
        records: &[u8],
        instrument_ids: &[u32],
        producers: &[u8],
        raft_index: i64,
    ) -> Result<KeptBatch> {
        let _timer = crate::metrics::APPLY_SECONDS
            .with_label_values(&["market"])
            .start_timer();
        if !producers.len().is_multiple_of(PRODUCER_ROW_BYTES)
            || raft_index <= 0
            || raft_index >= 1 << 47
        {
            return Err(coded(
                "MD_INVALID",
                "producers is 13 bytes per producer; raftIndex in 1..2^47",
            ));
        }
        let rows = producers.chunks_exact(PRODUCER_ROW_BYTES);
        let marks: Vec<Option<u64>> = rows
            .clone()
            .map(|c| (c[0] != 0).then(|| u64::from_le_bytes(c[1..9].try_into().expect("8 bytes"))))
            .collect();
        let ids: Vec<u32> = rows
            .map(|c| u32::from_le_bytes(c[9..13].try_into().expect("4 bytes")))
            .collect();
        let input = KeepInput {
            records,
            instrument_ids,
            high_water: &marks,
            producer_ids: &ids,
            seq_base: (raft_index as u64) << 16,
        };
        let kept = keep(&input, &mut self.venues).map_err(from_market)?;
        self.books.apply_batch(&kept.records).map_err(from_market)?;
        Ok(to_js(kept))
    }

    /// Sets the last venueSeq seen for (publisher, instrument) (at load).
    #[napi]
    pub fn set_venue(&mut self, publisher: u32, instrument: u32, venue_seq: BigInt) -> Result<()> {
        let (signed, value, lossless) = venue_seq.get_u64();
        if signed || !lossless {
            return Err(coded(
                "MD_INVALID",
                "venueSeq is an unsigned 64-bit integer",
            ));
        }
        self.venues.set(publisher, instrument, value);
        Ok(())
    }

    /// The stored form of an instrument's book (null: no book).
    #[napi]
    pub fn encode(&self, instrument: u32) -> Option<Buffer> {
        self.books.get(instrument).map(|b| Buffer::from(b.encode()))
    }

    /// Sets an instrument's book from its stored form.
    #[napi]
    pub fn load(&mut self, instrument: u32, encoded: &[u8]) -> Result<()> {
        self.books.load(instrument, encoded).map_err(from_market)
    }

    /// The book as JSON (`symbolJson`: the instrument's name as a JSON string); null: no book.
    #[napi]
    pub fn view(&self, instrument: u32, symbol_json: String, depth: u32) -> Option<String> {
        self.books
            .get(instrument)
            .map(|b| b.view_json(&symbol_json, depth as usize))
    }
}
