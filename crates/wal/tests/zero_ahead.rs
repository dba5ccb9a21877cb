//! The active segment is zero-filled ahead of the log, so that most groups' fdatasync writes
//! their data and no metadata. Recovery reads those zeros as the log's end; a segment is trimmed
//! to its last record before it is sealed and at a clean close.

use std::fs;
use std::path::Path;

use wal::{Options, Wal};

mod common;
use common::{all_entries, append_sync, only_segment, segments};

/// The writer's zero-fill step (`ZERO_AHEAD_BYTES` in writer.rs).
const ZERO_AHEAD_BYTES: u64 = 1 << 20;

/// The log's files as a process crash leaves them (the page cache outlives the process).
fn crash_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
    }
    to
}

/// `bytes` followed by zeros up to `len`: a segment whose tail the writer had zero-filled.
fn write_padded(path: &Path, bytes: &[u8], len: usize) {
    let mut padded = bytes.to_vec();
    padded.resize(len, 0);
    fs::write(path, padded).unwrap();
}

/// 40 entries of 300 bytes in segments of at most 4 KiB (several of them), and the open log.
fn rolled_log(dir: &Path) -> (Options, Wal) {
    let opts = Options {
        segment_bytes_max: 4096,
        ..Options::default()
    };
    let wal = Wal::open(dir, opts.clone(), None).unwrap();
    let value = [7u8; 300];
    for index in 1..=40u64 {
        append_sync(&wal, index, &[(1, &value)], None);
    }
    (opts, wal)
}

#[test]
fn the_active_segment_runs_ahead_in_zeros_and_a_clean_close_trims_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    append_sync(&wal, 1, &[(1, b"one"), (1, b"two")], None);
    append_sync(&wal, 3, &[(2, b"three")], None);
    let path = only_segment(dir.path());
    let open_len = fs::metadata(&path).unwrap().len();
    assert!(open_len >= ZERO_AHEAD_BYTES, "file length {open_len}");

    let crashed = crash_copy(dir.path());
    drop(wal);
    // magic + the initial hard state + three entry records.
    let log_len = 8 + (12 + 17 + 24) + (12 + 17) * 3 + 3 + 3 + 5;
    assert_eq!(fs::metadata(&path).unwrap().len(), log_len);

    let recovered = Wal::open(crashed.path(), Options::default(), None).unwrap();
    assert_eq!(
        all_entries(&recovered),
        vec![
            (1, b"one".to_vec()),
            (1, b"two".to_vec()),
            (2, b"three".to_vec())
        ]
    );
    assert_eq!(recovered.recovery().truncated_bytes, open_len - log_len);
    // Appends after recovery zero-fill again, and survive another crash.
    append_sync(&recovered, 4, &[(2, b"four")], None);
    let again = crash_copy(crashed.path());
    drop(recovered);
    let reopened = Wal::open(again.path(), Options::default(), None).unwrap();
    assert_eq!(reopened.last_index(), 4);
    assert_eq!(reopened.term(4), Some(2));
}

#[test]
fn zeros_after_a_damaged_record_hide_nothing_written_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
        append_sync(&wal, 1, &[(1, b"one"), (1, b"two"), (1, b"three")], None);
    }
    let path = only_segment(dir.path());
    let full = fs::read(&path).unwrap();
    let entry2_body = 8 + 53 + (12 + 17 + 3) + 12;
    let last_body = full.len() - 5;

    // A damaged middle record is corruption, zeros after the log or not.
    let mut middle = full.clone();
    middle[entry2_body] ^= 0x01;
    write_padded(&path, &middle, full.len() + 4096);
    let err = Wal::open(dir.path(), Options::default(), None)
        .err()
        .expect("open must fail");
    assert_eq!(err.code(), "WAL_CORRUPT");

    // The last record damaged with only zeros after it: its group never completed its sync.
    let mut last = full.clone();
    last[last_body] ^= 0x01;
    write_padded(&path, &last, full.len() + 4096);
    let wal = Wal::open(dir.path(), Options::default(), None).unwrap();
    assert_eq!(wal.last_index(), 2);
}

#[test]
fn sealed_segments_end_with_their_last_record() {
    let dir = tempfile::tempdir().unwrap();
    // Kept open: the active segment is measured as it runs ahead.
    let (opts, _wal) = rolled_log(dir.path());
    let mut lens: Vec<(String, u64)> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    lens.sort();
    assert!(lens.len() >= 3, "{lens:?}");
    let (active, sealed) = lens.split_last().unwrap();
    // The active segment is zero-filled to the segment size; sealed ones hold records only:
    // a scan of a sealed segment refuses zeros, so the crashed copy opening proves it too.
    assert_eq!(active.1, 4096, "{lens:?}");
    for (name, len) in sealed {
        assert_eq!((len - 8 - 53) % (12 + 17 + 300), 0, "{name}: {len}");
    }
    let crashed = crash_copy(dir.path());
    let recovered = Wal::open(crashed.path(), opts, None).unwrap();
    assert_eq!(recovered.last_index(), 40);
    assert_eq!(all_entries(&recovered).len(), 40);
}

/// A new segment's first group carries its header, and the zeros filled ahead of that group are
/// written first: a process killed between the two writes leaves the new segment all zeros (CI
/// caught it: `bad segment magic` at offset 0, after a SIGKILL while segments rolled). A power
/// failure can leave a prefix of the header and zeros. Either way it is the last segment, and no
/// entry in it was acknowledged: recovery drops it and rewrites its header.
#[test]
fn a_crash_while_a_new_segment_is_created_leaves_zeros_where_its_header_goes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = rolled_log(dir.path()).0; // (the log closes at the end of this statement)
    let paths = segments(dir.path());
    assert!(paths.len() >= 3, "{paths:?}");
    // The entries of every segment but the last: the last one's creation is what was torn.
    let before_last = {
        let name = paths.last().unwrap().file_name().unwrap().to_str().unwrap();
        name.trim_end_matches(".wal").parse::<u64>().unwrap() - 1
    };
    for header in [&b""[..], &b"QKV"[..]] {
        let crashed = crash_copy(dir.path());
        let last = segments(crashed.path()).pop().unwrap();
        write_padded(&last, header, 4096);
        let wal = Wal::open(crashed.path(), opts.clone(), None).unwrap();
        assert_eq!(wal.last_index(), before_last, "header {header:?}");
        assert_eq!(wal.recovery().truncated_bytes, 4096);
        // The segment is usable again: appends go on from there and survive a reopen.
        append_sync(&wal, before_last + 1, &[(2, b"after")], None);
        drop(wal);
        let reopened = Wal::open(crashed.path(), opts.clone(), None).unwrap();
        assert_eq!(reopened.last_index(), before_last + 1);
        assert_eq!(reopened.term(before_last + 1), Some(2));
    }

    // Zeros where a sealed segment's header goes are corruption: that segment was synced whole.
    let crashed = crash_copy(dir.path());
    let sealed = segments(crashed.path()).swap_remove(1);
    write_padded(&sealed, b"", 4096);
    let err = Wal::open(crashed.path(), opts, None)
        .err()
        .expect("open must fail");
    assert_eq!(err.code(), "WAL_CORRUPT");
}
