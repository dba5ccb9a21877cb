//! What the log holds, shared by the I/O thread and readers under one mutex: the segments and
//! where every durable entry lives. Only durable entries are indexed: the Raft core keeps
//! not-yet-durable entries in its own unstable log, so readers never need them.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::record::HardState;

#[derive(Debug, Clone, Copy)]
pub struct Loc {
    pub term: u64,
    pub segment_seq: u64,
    pub offset: u64,
    pub len: u32,
}

pub struct Segment {
    pub seq: u64,
    pub first_index: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes written and synced.
    pub size: u64,
    /// Length of the file: `size` plus the zeros written ahead of it (`Writer::zero_ahead`).
    /// Invariant: `allocated >= size`.
    pub allocated: u64,
}

pub struct State {
    pub segments: VecDeque<Segment>,
    /// `locs[i]` is the entry at `first_index + i`.
    pub locs: VecDeque<Loc>,
    /// Index of `locs[0]`; when `locs` is empty, the index the next entry will take.
    pub first_index: u64,
    pub hard_state: HardState,
    /// Set once by a fatal error; every later append fails with it.
    pub fatal: Option<String>,
}

impl State {
    /// Index of the last durable entry (`first_index - 1` when empty).
    pub fn last_index(&self) -> u64 {
        self.first_index + self.locs.len() as u64 - 1
    }

    pub fn loc(&self, index: u64) -> Option<Loc> {
        if index < self.first_index {
            return None;
        }
        self.locs.get((index - self.first_index) as usize).copied()
    }

    pub fn segment(&self, seq: u64) -> &Segment {
        let front = self
            .segments
            .front()
            .expect("a log always has an active segment")
            .seq;
        let segment = &self.segments[(seq - front) as usize];
        debug_assert_eq!(segment.seq, seq);
        segment
    }

    pub fn active(&self) -> &Segment {
        self.segments
            .back()
            .expect("a log always has an active segment")
    }

    pub fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .back_mut()
            .expect("a log always has an active segment")
    }
}
