//! Helpers shared by the log's integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use wal::{HardState, Wal};

pub fn pack(entries: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (term, data) in entries {
        out.extend_from_slice(&term.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

pub fn unpack(packed: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < packed.len() {
        let term = u64::from_le_bytes(packed[at..at + 8].try_into().unwrap());
        let len = u32::from_le_bytes(packed[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((term, packed[at + 12..at + 12 + len].to_vec()));
        at += 12 + len;
    }
    out
}

pub fn append_sync(wal: &Wal, first: u64, entries: &[(u64, &[u8])], hs: Option<HardState>) {
    let ticket = wal.append(first, pack(entries), hs).unwrap();
    wal.wait_durable(ticket).unwrap();
}

pub fn all_entries(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    if wal.last_index() < wal.first_index() {
        return Vec::new();
    }
    unpack(
        &wal.entries(wal.first_index(), wal.last_index() + 1, usize::MAX)
            .unwrap()
            .0,
    )
}

/// The segment files of `dir`, in log order (their names are their first indexes, zero-padded).
pub fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

pub fn only_segment(dir: &Path) -> std::path::PathBuf {
    let mut files = segments(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}
