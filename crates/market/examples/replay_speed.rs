//! `cargo run --release --example replay_speed`: the replay cursor's events/s on synthetic
//! records (20 instruments, 2M records), to profile the hot path without Node (`perf record`).
use market::{parse_price, Action, Delta, Format, Replay, ReplayOptions, Step, F_LAST};

fn records(n: u64) -> Vec<Vec<u8>> {
    let mut sources: Vec<Vec<u8>> = vec![Vec::new(); 20];
    let mut x: u64 = 88_172_645_463_325_252;
    let base = parse_price("100").expect("a price");
    for seq in 1..=n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let inst = (x % 20) as usize;
        let d = Delta {
            kind: if x % 10 < 7 { 1 } else { 2 },
            action: if x.is_multiple_of(3) {
                Action::Cancel
            } else {
                Action::Add
            },
            side: 1 + (x % 2) as u8,
            flags: F_LAST,
            instrument: inst as u32 + 1,
            orders: 3,
            price: base + ((x >> 20) % 50) as i64 * 10_000_000,
            size: (x >> 30) % 1000,
            ts_event: 1_700_000_000_000_000_000 + seq * 1000,
            seq,
        };
        sources[inst].extend_from_slice(&d.encode());
    }
    sources
}

fn main() {
    let sources = records(2_000_000);
    for (format, books) in [
        (Format::Ndjson, false),
        (Format::Binary, false),
        (Format::Ndjson, true),
    ] {
        let opts = ReplayOptions {
            from_ts: 0,
            to_ts: u64::MAX,
            seq_limit: u64::MAX,
            resume_after: None,
            kinds_mask: if books { 0 } else { 0b1110 },
            books,
            depth: 10,
            snapshot_every_ns: 0,
            format,
            levels_max: 10_000,
            events_before: 0,
            seq_before: 0,
            snapshots_before: 0,
        };
        let mut r = Replay::new(
            opts,
            (0..20).map(|i| format!("\"SYM{i:03}\"")).collect(),
            vec!["\"gen\"".into()],
        );
        for (i, s) in sources.iter().enumerate() {
            r.push(i, s, true).expect("valid records");
        }
        let started = std::time::Instant::now();
        let mut bytes = 0;
        loop {
            let mut out = Vec::with_capacity(300 << 10);
            let step = r.render(u64::MAX, 256 << 10, &mut out);
            bytes += out.len();
            if step == Step::Done {
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{format:?} books={books}: {:.0} events/s, {:.0} snapshots/s, {:.0} MiB/s",
            r.events as f64 / secs,
            r.snapshots as f64 / secs,
            bytes as f64 / secs / 1_048_576.0
        );
    }
}
