//! Every instrument's book, keyed by instrument id, updated one committed batch at a time.
//!
//! Limits: `levels_max` per side per book (see `Book`); the number of instruments is bounded by
//! the caller, which assigns ids.

use std::collections::HashMap;

use crate::book::Book;
use crate::error::{MarketError, Result};
use crate::record::{Delta, DELTA_BYTES};

pub struct Books {
    books: HashMap<u32, Book>,
    levels_max: usize,
}

impl Books {
    pub fn new(levels_max: usize) -> Books {
        assert!(levels_max > 0, "levels_max must be positive");
        Books {
            books: HashMap::new(),
            levels_max,
        }
    }

    /// Checks that `packed` is whole records with known kinds, actions and sides, before
    /// anything is applied (a batch applies entirely or not at all).
    pub fn validate(packed: &[u8]) -> Result<usize> {
        if !packed.len().is_multiple_of(DELTA_BYTES) {
            return Err(MarketError::Invalid(format!(
                "a batch is whole {DELTA_BYTES}-byte records, got {} bytes",
                packed.len()
            )));
        }
        for (i, chunk) in packed.chunks_exact(DELTA_BYTES).enumerate() {
            Delta::decode(chunk).map_err(|e| MarketError::Invalid(format!("record {i}: {e}")))?;
        }
        Ok(packed.len() / DELTA_BYTES)
    }

    /// Applies a validated batch in order; returns the instruments whose books changed, sorted.
    pub fn apply_batch(&mut self, packed: &[u8]) -> Result<Vec<u32>> {
        Books::validate(packed)?;
        let mut dirty = Vec::new();
        for chunk in packed.chunks_exact(DELTA_BYTES) {
            let d = Delta::decode(chunk)?;
            self.books
                .entry(d.instrument)
                .or_default()
                .apply(&d, self.levels_max);
            dirty.push(d.instrument);
        }
        dirty.sort_unstable();
        dirty.dedup();
        Ok(dirty)
    }

    pub fn get(&self, instrument: u32) -> Option<&Book> {
        self.books.get(&instrument)
    }

    /// Replaces (or sets) a book read back from storage.
    pub fn load(&mut self, instrument: u32, encoded: &[u8]) -> Result<()> {
        self.books.insert(instrument, Book::decode(encoded)?);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.books.clear();
    }

    pub fn len(&self) -> usize {
        self.books.len()
    }

    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }
}
