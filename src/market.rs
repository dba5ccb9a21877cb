//! Order books for the applier: one `applyBatch` call per committed batch of market records
//! (the records are validated whole first, so a batch applies entirely or not at all), the
//! changed books' stored forms for the same WriteBatch, and book views as JSON text.

use market_crate::Books;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::coded;

fn from_market(err: market_crate::MarketError) -> Error {
    coded(err.code(), err)
}

#[napi]
pub struct NativeBooks {
    books: Books,
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

    /// Drops every book (before loading a snapshot's).
    #[napi]
    pub fn clear(&mut self) {
        self.books.clear();
    }
}
