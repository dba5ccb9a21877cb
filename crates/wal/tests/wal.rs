//! Behaviour of the log through its public API: durability, recovery, truncation, compaction
//! and fatal sync errors.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use wal::{BackendChoice, Faults, HardState, Options, Wal};

mod common;
use common::{all_entries, append_sync, only_segment, pack, segments};

fn options(backend: BackendChoice) -> Options {
    Options {
        backend,
        ..Options::default()
    }
}

/// A log that lets `set_sync_stall` slow its syncs down (a test-only fault).
fn open_stallable(dir: &Path) -> Wal {
    let opts = Options {
        faults: Faults {
            allow_stall: true,
            ..Faults::default()
        },
        ..Options::default()
    };
    Wal::open(dir, opts, None).unwrap()
}

#[test]
fn append_read_reopen_on_both_backends() {
    for backend in [BackendChoice::Auto, BackendChoice::Pwrite] {
        let dir = tempfile::tempdir().unwrap();
        let hs = HardState {
            term: 2,
            vote: 3,
            commit: 2,
        };
        {
            let wal = Wal::open(dir.path(), options(backend), None).unwrap();
            append_sync(&wal, 1, &[(1, b"a"), (2, b"bb")], None);
            append_sync(&wal, 3, &[(2, b"ccc")], Some(hs));
            assert_eq!((wal.first_index(), wal.last_index()), (1, 3));
            assert_eq!(wal.term(2), Some(2));
            let limited = wal.entries(1, 4, 1).unwrap();
            assert_eq!(limited.1, 1, "byte limit still returns one entry");
        }
        let wal = Wal::open(dir.path(), options(backend), None).unwrap();
        assert_eq!(
            all_entries(&wal),
            vec![
                (1, b"a".to_vec()),
                (2, b"bb".to_vec()),
                (2, b"ccc".to_vec())
            ]
        );
        assert_eq!(wal.hard_state(), hs);
        assert_eq!(wal.recovery().entries, 3);
    }
}

#[test]
fn io_uring_is_used_when_available() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), options(BackendChoice::Auto), None).unwrap();
    // Machines here run kernel 6.x with io_uring enabled; elsewhere Auto must say why it fell back.
    match wal.backend() {
        "io_uring" => assert!(wal.backend_fallback_reason().is_none()),
        _ => assert!(wal.backend_fallback_reason().is_some()),
    }
}

#[test]
fn recovery_after_truncating_the_last_record_at_every_byte_keeps_complete_records() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(&wal, 1, &[(1, b"first"), (1, b"second")], None);
        append_sync(&wal, 3, &[(1, b"the last record")], None);
    }
    let path = only_segment(dir.path());
    let full = fs::read(&path).unwrap();
    let last_len = 12 + 17 + b"the last record".len();
    let last_start = full.len() - last_len;
    // Cut short where the file ends, or inside the zeros the writer fills ahead of the log (the
    // rest of the record then reads as zeros, not as missing).
    for zeros_after in [0, 4096] {
        for cut in last_start..full.len() {
            let trial = tempfile::tempdir().unwrap();
            let trial_path = trial.path().join(path.file_name().unwrap());
            let mut bytes = full[..cut].to_vec();
            if zeros_after > 0 {
                bytes.resize(full.len() + zeros_after, 0);
            }
            fs::write(&trial_path, &bytes).unwrap();
            let wal = Wal::open(trial.path(), Options::default(), None).unwrap();
            assert_eq!(
                wal.last_index(),
                2,
                "cut at {cut}, zeros after {zeros_after}"
            );
            assert_eq!(
                all_entries(&wal),
                vec![(1, b"first".to_vec()), (1, b"second".to_vec())]
            );
            let cut_bytes = (bytes.len() - last_start) as u64;
            assert_eq!(wal.recovery().truncated_bytes, cut_bytes);
            // The log keeps working after the repair, and the repair itself was durable.
            append_sync(&wal, 3, &[(2, b"after")], None);
            drop(wal);
            let wal = Wal::open(trial.path(), Options::default(), None).unwrap();
            assert_eq!(wal.last_index(), 3);
            assert_eq!(wal.term(3), Some(2));
        }
    }
}

#[test]
fn a_zero_filled_tail_is_torn_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(&wal, 1, &[(1, b"x")], None);
    }
    let path = only_segment(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len + 4096)
        .unwrap();
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    assert_eq!(wal.last_index(), 1);
    assert_eq!(wal.recovery().truncated_bytes, 4096);
}

#[test]
fn a_flipped_byte_in_a_middle_record_fails_open_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(
            &wal,
            1,
            &[(1, b"one"), (1, b"two-two"), (1, b"three")],
            None,
        );
    }
    let path = only_segment(dir.path());
    let full = fs::read(&path).unwrap();
    // magic (8) + initial hard state record (12 + 17 + 24), then entry 1, then entry 2.
    let entry2_start = 8 + 53 + (12 + 17 + 3);
    let entry2_len = 12 + 17 + 7;
    for byte in entry2_start..entry2_start + entry2_len {
        let mut copy = full.clone();
        copy[byte] ^= 0x01;
        fs::write(&path, &copy).unwrap();
        let err = Wal::open(dir.path(), Options::default(), None)
            .err()
            .expect("open must fail");
        assert_eq!(err.code(), "WAL_CORRUPT");
        let message = err.to_string();
        assert!(message.contains(path.to_str().unwrap()), "{message}");
        assert!(
            message.contains(&format!("offset {entry2_start}")),
            "{message}"
        );
    }
}

#[test]
fn conflicting_append_truncates_the_suffix_and_keeps_the_vote() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(&wal, 1, &[(1, b"1"), (1, b"2"), (1, b"3")], None);
        append_sync(
            &wal,
            4,
            &[(2, b"4")],
            Some(HardState {
                term: 3,
                vote: 2,
                commit: 1,
            }),
        );
        // A leader of term 3 overwrites entries 3.. with its own.
        append_sync(&wal, 3, &[(3, b"3'")], None);
        assert_eq!(wal.last_index(), 3);
        assert_eq!(wal.term(3), Some(3));
        assert!(wal.entries(4, 5, usize::MAX).is_err());
    }
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    assert_eq!(
        all_entries(&wal),
        vec![(1, b"1".to_vec()), (1, b"2".to_vec()), (3, b"3'".to_vec())]
    );
    assert_eq!(
        wal.hard_state(),
        HardState {
            term: 3,
            vote: 2,
            commit: 1
        }
    );
}

#[test]
fn appends_that_leave_a_gap_or_break_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        record_bytes_max: 1024,
        ..Options::default()
    };
    let wal = Wal::open(dir.path(), opts, None).unwrap();
    assert_eq!(
        wal.append(2, pack(&[(1, b"x")]), None).unwrap_err().code(),
        "WAL_GAP"
    );
    assert_eq!(
        wal.append(1, pack(&[(1, &[0u8; 2000])]), None)
            .unwrap_err()
            .code(),
        "WAL_LIMIT"
    );
    assert_eq!(
        wal.append(1, vec![1, 2, 3], None).unwrap_err().code(),
        "WAL_INVALID_ARGUMENT"
    );
    assert_eq!(
        wal.append(1, Vec::new(), None).unwrap_err().code(),
        "WAL_INVALID_ARGUMENT"
    );
    assert_eq!(wal.last_index(), 0);
}

#[test]
fn compaction_drops_whole_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        segment_bytes_max: 400,
        ..Options::default()
    };
    let payload = [7u8; 100];
    {
        let wal = Wal::open(dir.path(), opts.clone(), None).unwrap();
        for i in 1..=20u64 {
            append_sync(&wal, i, &[(1, &payload)], None);
        }
        let segments = fs::read_dir(dir.path()).unwrap().count();
        assert!(segments >= 5, "expected several segments, got {segments}");
        let first = wal.compact(10).unwrap();
        assert!(first > 1 && first <= 11, "first index {first}");
        assert_eq!(wal.first_index(), first);
        assert_eq!(wal.last_index(), 20);
        assert!(wal.entries(first - 1, first, usize::MAX).is_err());
        assert_eq!(all_entries(&wal).len() as u64, 21 - first);
        assert_eq!(
            wal.compact(1000).unwrap(),
            wal.first_index(),
            "the active segment is never dropped"
        );
        assert_eq!(wal.last_index(), 20);
    }
    let wal = Wal::open(dir.path(), opts, None).unwrap();
    assert_eq!(wal.last_index(), 20);
    assert!(wal.first_index() > 1);
}

#[test]
fn reset_restarts_the_log_at_a_new_index() {
    let dir = tempfile::tempdir().unwrap();
    let hs = HardState {
        term: 5,
        vote: 1,
        commit: 3,
    };
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(&wal, 1, &[(1, b"a"), (1, b"b"), (1, b"c")], Some(hs));
        let ticket = wal.reset(101).unwrap();
        wal.wait_durable(ticket).unwrap();
        assert_eq!((wal.first_index(), wal.last_index()), (101, 100));
        append_sync(&wal, 101, &[(5, b"after snapshot")], None);
    }
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    assert_eq!((wal.first_index(), wal.last_index()), (101, 101));
    assert_eq!(wal.hard_state(), hs);
}

#[test]
fn an_fdatasync_failure_is_fatal_and_refuses_further_appends() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        faults: Faults {
            fail_sync_at: Some(1),
            ..Faults::default()
        },
        ..Options::default()
    };
    let wal = Wal::open(dir.path(), opts, None).unwrap();
    append_sync(&wal, 1, &[(1, b"durable")], None);
    let ticket = wal.append(2, pack(&[(1, b"lost")]), None).unwrap();
    let err = wal.wait_durable(ticket).unwrap_err();
    assert_eq!(err.code(), "WAL_FSYNC_FAILED");
    let again = wal.append(3, pack(&[(1, b"never")]), None).unwrap_err();
    assert!(
        matches!(
            again.code(),
            "WAL_FSYNC_FAILED" | "WAL_FATAL" | "WAL_CLOSED"
        ),
        "{}",
        again.code()
    );
    assert_eq!(
        wal.last_index(),
        1,
        "the failed entry is never reported durable"
    );
    // Waiting on the earlier, durable ticket still succeeds.
    wal.wait_durable(1).unwrap();
}

#[test]
fn concurrent_appenders_share_fdatasyncs() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), Options::default(), None).unwrap());
    // Appends must be contiguous, so the threads take indices under one lock; the sync they
    // wait for is what they share.
    let next = Arc::new(std::sync::Mutex::new(1u64));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let wal = wal.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let ticket = {
                        let mut next = next.lock().unwrap();
                        let t = wal.append(*next, pack(&[(1, &[1u8; 100])]), None).unwrap();
                        *next += 1;
                        t
                    };
                    wal.wait_durable(ticket).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = wal.stats();
    assert_eq!(stats.entries, 800);
    assert_eq!(wal.last_index(), 800);
    assert!(
        stats.syncs < 800,
        "group commit must share syncs: {} syncs for 800 entries",
        stats.syncs
    );
}

#[test]
fn corruption_in_a_sealed_segment_is_reported_even_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        segment_bytes_max: 300,
        ..Options::default()
    };
    {
        let wal = Wal::open(dir.path(), opts.clone(), None).unwrap();
        for i in 1..=6u64 {
            append_sync(&wal, i, &[(1, &[9u8; 100])], None);
        }
    }
    let files = segments(dir.path());
    assert!(files.len() >= 2);
    let sealed = &files[0];
    let len = fs::metadata(sealed).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(sealed).unwrap();
    f.write_all_at(&[0xff], len - 1).unwrap();
    let err = Wal::open(dir.path(), opts, None).err().expect("must fail");
    assert_eq!(err.code(), "WAL_CORRUPT");
}

/// Many appenders with conflicting rewrites and tiny segments: groups overlap in the io_uring
/// pipeline, and truncations and segment rolls must run alone between them. Whatever the
/// interleaving, the log read back after reopening is exactly what the appends wrote last.
#[test]
fn overlapping_groups_with_truncations_and_rolls_read_back_exactly() {
    for backend in [BackendChoice::Auto, BackendChoice::Pwrite] {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            backend,
            segment_bytes_max: 4096,
            ..Options::default()
        };
        let wal = Arc::new(Wal::open(dir.path(), opts.clone(), None).unwrap());
        // The model: what the log must hold, updated under the same lock that orders appends.
        let model = Arc::new(std::sync::Mutex::new(Vec::<(u64, Vec<u8>)>::new()));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let wal = wal.clone();
                let model = model.clone();
                std::thread::spawn(move || {
                    for i in 0..120u64 {
                        let ticket = {
                            let mut model = model.lock().unwrap();
                            // Every 17th append rewrites the last two entries (a Raft conflict).
                            let first = if i % 17 == 16 && model.len() > 2 {
                                model.len() as u64 - 1
                            } else {
                                model.len() as u64 + 1
                            };
                            model.truncate(first as usize - 1);
                            let batch: Vec<(u64, Vec<u8>)> = (0..1 + (i % 3))
                                .map(|k| (1 + i / 17, format!("t{t}-i{i}-k{k}").into_bytes()))
                                .collect();
                            let refs: Vec<(u64, &[u8])> = batch
                                .iter()
                                .map(|(term, d)| (*term, d.as_slice()))
                                .collect();
                            let ticket = wal.append(first, pack(&refs), None).unwrap();
                            model.extend(batch);
                            ticket
                        };
                        wal.wait_durable(ticket).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected = model.lock().unwrap().clone();
        assert_eq!(all_entries(&wal), expected, "{backend:?} before reopen");
        wal.close();
        drop(wal);
        let reopened = Wal::open(dir.path(), opts, None).unwrap();
        assert_eq!(all_entries(&reopened), expected, "{backend:?} after reopen");
        assert!(
            fs::read_dir(dir.path()).unwrap().count() > 2,
            "segments rolled"
        );
    }
}

#[test]
fn a_disk_stall_is_refused_unless_the_log_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    let ms = std::time::Duration::from_millis;
    let err = wal.set_sync_stall(ms(20), ms(100)).unwrap_err();
    assert_eq!(err.code(), "WAL_INVALID_ARGUMENT");
}

#[test]
fn hard_state_only_appends_share_the_group_of_the_entries_around_them() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open_stallable(dir.path());
    let ms = std::time::Duration::from_millis;
    let hs = |commit| HardState {
        term: 1,
        vote: 1,
        commit,
    };
    // The first sync is slow, so everything after it queues while it runs (or joins it).
    wal.set_sync_stall(ms(200), ms(150)).unwrap();
    let before = wal.stats().syncs;
    let first = wal.append(1, pack(&[(1, b"a")]), None).unwrap();
    // A Raft driver's order: entries, a commit-only hard state (index ignored), more entries.
    wal.append(2, pack(&[(1, b"b")]), None).unwrap();
    wal.append(0, Vec::new(), Some(hs(2))).unwrap();
    wal.append(3, pack(&[(1, b"c")]), None).unwrap();
    let last = wal.append(0, Vec::new(), Some(hs(3))).unwrap();
    wal.wait_durable(first).unwrap();
    wal.wait_durable(last).unwrap();
    let syncs = wal.stats().syncs - before;
    assert!(
        syncs <= 2,
        "{syncs} syncs: the queued appends must form one group"
    );
    assert_eq!(wal.last_index(), 3);
    assert_eq!(wal.hard_state(), hs(3));
}

#[test]
fn an_armed_disk_stall_slows_each_sync_until_it_expires_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let wal = open_stallable(dir.path());
    let ms = std::time::Duration::from_millis;
    let syncs_before = wal::metrics::FSYNC_SECONDS.get_sample_count();
    // A delay far above any real sync here, so the two sides cannot be confused on a busy machine.
    wal.set_sync_stall(ms(300), ms(100)).unwrap();
    let started = std::time::Instant::now();
    append_sync(&wal, 1, &[(1, b"slow")], None);
    assert!(
        started.elapsed() >= ms(300),
        "the stalled sync took {:?}",
        started.elapsed()
    );
    // Other tests in this process sync too: the count only grows.
    assert!(wal::metrics::FSYNC_SECONDS.get_sample_count() > syncs_before);
    // The stall was armed for 100 ms and the first sync alone outlasted it.
    let started = std::time::Instant::now();
    append_sync(&wal, 2, &[(1, b"fast again")], None);
    assert!(
        started.elapsed() < ms(300),
        "after expiry a sync took {:?}",
        started.elapsed()
    );
}
