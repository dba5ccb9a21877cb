use market::{
    parse_price, Action, Delta, Format, Replay, ReplayOptions, Step, DELTA_BYTES, F_LAST,
    KIND_TRADE,
};

/// A delta of instrument `inst` at venue time `ts` with `seq`.
fn delta(inst: u32, ts: u64, seq: u64, price: &str, size: u64, flags: u8) -> [u8; DELTA_BYTES] {
    Delta {
        kind: 1,
        action: Action::Add,
        side: 1,
        flags,
        instrument: inst,
        orders: 1,
        price: parse_price(price).unwrap(),
        size,
        ts_event: ts,
        seq,
    }
    .encode()
}

/// The producer table: every record here is producer 0's.
fn producers() -> Vec<String> {
    vec!["\"feed-1\"".into()]
}

fn trade(inst: u32, ts: u64, seq: u64) -> [u8; DELTA_BYTES] {
    let mut d = delta(inst, ts, seq, "100", 1, F_LAST);
    d[0] = KIND_TRADE;
    d[1] = 0;
    d
}

fn opts(from_ts: u64, to_ts: u64) -> ReplayOptions {
    ReplayOptions {
        from_ts,
        to_ts,
        seq_limit: u64::MAX,
        resume_after: None,
        kinds_mask: 0b1110,
        books: true,
        depth: 5,
        snapshot_every_ns: 0,
        format: Format::Ndjson,
        levels_max: 100,
        events_before: 0,
        seq_before: 0,
        snapshots_before: 0,
    }
}

fn packed(records: &[[u8; DELTA_BYTES]]) -> Vec<u8> {
    records.concat()
}

/// Two instruments: A has deltas at 10, 30, 50; B has a trade at 20 and a delta at 30.
fn sources() -> (Vec<u8>, Vec<u8>) {
    let a = packed(&[
        delta(1, 10, 1, "100", 5, F_LAST),
        delta(1, 30, 3, "101", 6, F_LAST),
        delta(1, 50, 5, "102", 7, F_LAST),
    ]);
    let b = packed(&[trade(2, 20, 2), delta(2, 30, 4, "50", 1, F_LAST)]);
    (a, b)
}

fn run(o: ReplayOptions) -> String {
    let (a, b) = sources();
    let mut r = Replay::new(o, vec!["\"A\"".into(), "\"B\"".into()], producers());
    r.push(0, &a, true).unwrap();
    r.push(1, &b, true).unwrap();
    let mut out = Vec::new();
    assert_eq!(r.render(u64::MAX, usize::MAX, &mut out), Step::Done);
    String::from_utf8(out).unwrap()
}

fn kinds_and_seqs(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let kind = l
                .split("\"kind\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let seq = l
                .split("\"seq\":\"")
                .nth(1)
                .map_or("", |s| s.split('"').next().unwrap());
            format!("{kind}:{seq}")
        })
        .collect()
}

#[test]
fn merges_instruments_by_venue_time_then_seq_with_a_book_after_each_change() {
    let out = run(opts(0, u64::MAX));
    assert_eq!(
        kinds_and_seqs(&out),
        [
            "delta:1", "book:1", "trade:2", "delta:3", "book:3", "delta:4", "book:4", "delta:5",
            "book:5", "done:5"
        ]
    );
    assert!(out.ends_with("{\"kind\":\"done\",\"events\":5,\"snapshots\":4,\"seq\":\"5\"}\n"));
}

#[test]
fn starting_mid_day_rolls_forward_silently_and_opens_with_the_books() {
    let out = run(opts(30, 50));
    // A's book at 30 holds the level added at 10, B's the trade at 20; `to` is exclusive, so
    // seq 5 is not shown.
    assert_eq!(
        kinds_and_seqs(&out),
        ["book:1", "book:2", "delta:3", "book:3", "delta:4", "book:4", "done:4"]
    );
    assert!(out.lines().nth(3).unwrap().contains(
        r#""bids":[{"price":"101","size":6,"orders":1},{"price":"100","size":5,"orders":1}]"#
    ));
}

#[test]
fn a_resumed_replay_continues_exactly_where_the_first_stopped() {
    let full = run(opts(0, u64::MAX));
    // The client got everything up to the book line after event 3 (the same seq).
    let cut = full
        .find("{\"kind\":\"book\",\"instrument\":\"A\",\"seq\":\"3\"")
        .unwrap();
    let upto = &full[..full[cut..].find('\n').unwrap() + cut + 1];
    let mut o = opts(0, u64::MAX);
    o.resume_after = Some((30, 3));
    let rest = run(o);
    // The resumed part repeats nothing and misses nothing (its done line counts only itself).
    let joined = format!("{upto}{rest}");
    let strip_done = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("done"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip_done(&joined), strip_done(&full));
}

#[test]
fn a_cursor_that_writes_no_event_reports_the_seq_reached_before_it() {
    // Resumed after the last event: nothing is left, and the done line's seq is still the
    // resume token, not 0 (a client resuming from it would start over).
    let mut o = opts(0, u64::MAX);
    o.resume_after = Some((50, 5));
    o.seq_before = 5;
    assert_eq!(kinds_and_seqs(&run(o)), ["done:5"]);
    // A seek past the end (a new cursor of the same session) keeps the session's seq.
    let mut o = opts(60, u64::MAX);
    o.seq_before = 4;
    assert_eq!(kinds_and_seqs(&run(o)), ["book:5", "book:4", "done:4"]);
}

#[test]
fn periodic_snapshots_at_every_interval_of_venue_time() {
    let mut o = opts(0, u64::MAX);
    o.snapshot_every_ns = 25;
    o.kinds_mask = 0;
    // Boundaries at 25 (before ts 30) and 50 (before ts 50); none after the last event.
    // The opening snapshot finds no book yet; the boundary at 25 (before ts 30) shows A and B
    // (a trade gives B a book, as live books do); the one at 50 shows both; none after the end.
    assert_eq!(
        kinds_and_seqs(&run(o)),
        ["book:1", "book:2", "book:3", "book:4", "done:5"]
    );
}

#[test]
fn asks_for_records_and_says_when_the_next_is_due() {
    let (a, b) = sources();
    let mut r = Replay::new(
        opts(0, u64::MAX),
        vec!["\"A\"".into(), "\"B\"".into()],
        producers(),
    );
    let mut out = Vec::new();
    assert_eq!(r.render(u64::MAX, usize::MAX, &mut out), Step::Need(0));
    r.push(0, &a, true).unwrap();
    assert_eq!(r.render(u64::MAX, usize::MAX, &mut out), Step::Need(1));
    r.push(1, &b, false).unwrap();
    assert_eq!(r.render(15, usize::MAX, &mut out), Step::Due(20));
    assert_eq!(
        kinds_and_seqs(std::str::from_utf8(&out).unwrap()),
        ["delta:1", "book:1"]
    );
    // B's two records are used up before A's last: the cursor needs B's next before going on.
    assert_eq!(r.render(40, usize::MAX, &mut out), Step::Need(1));
    r.push(1, &[], true).unwrap();
    assert_eq!(r.render(40, usize::MAX, &mut out), Step::Due(50));
}

#[test]
fn a_periodic_snapshot_never_shows_half_an_event() {
    let a = packed(&[
        delta(1, 10, 1, "100", 5, 0),     // the event continues...
        delta(1, 30, 2, "99", 5, F_LAST), // ...and ends here, after the boundary at 20
        delta(1, 40, 3, "98", 5, F_LAST),
    ]);
    let mut o = opts(0, u64::MAX);
    o.snapshot_every_ns = 20;
    o.kinds_mask = 0;
    let mut r = Replay::new(o, vec!["\"A\"".into()], producers());
    r.push(0, &a, true).unwrap();
    let mut out = Vec::new();
    r.render(u64::MAX, usize::MAX, &mut out);
    let text = String::from_utf8(out).unwrap();
    // The opening snapshot (no book yet) is skipped; the one due at 20 waits for the event's end.
    assert_eq!(kinds_and_seqs(&text), ["book:2", "book:2", "done:3"]);
}

#[test]
fn stops_at_the_seq_limit_and_writes_binary_frames() {
    let (a, _) = sources();
    let mut o = opts(0, u64::MAX);
    o.seq_limit = 3;
    o.books = false;
    o.format = Format::Binary;
    let mut r = Replay::new(o, vec!["\"A\"".into()], producers());
    r.push(0, &a, false).unwrap(); // seq 5 is past the limit: the source ends there
    let mut out = Vec::new();
    assert_eq!(r.render(u64::MAX, usize::MAX, &mut out), Step::Done);
    assert_eq!(out[0], 1);
    assert_eq!(u32::from_le_bytes(out[1..5].try_into().unwrap()), 96);
    assert_eq!(&out[5..101], &a[..96]);
    assert_eq!(out[2 * 101], 3);
    assert!(String::from_utf8_lossy(&out[2 * 101 + 5..]).contains("\"events\":2"));
}

#[test]
fn venue_times_going_backwards_keep_seq_order_without_failing() {
    let a = packed(&[
        delta(1, 30, 1, "100", 5, F_LAST),
        delta(1, 10, 2, "101", 5, F_LAST), // another feed of A, behind the first
        delta(1, 40, 3, "102", 5, F_LAST),
    ]);
    let mut o = opts(0, u64::MAX);
    o.books = false;
    let mut r = Replay::new(o, vec!["\"A\"".into()], producers());
    r.push(0, &a, true).unwrap();
    let mut out = Vec::new();
    assert_eq!(r.render(u64::MAX, usize::MAX, &mut out), Step::Done);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        kinds_and_seqs(&text),
        ["delta:1", "delta:2", "delta:3", "done:3"]
    );
}

#[test]
fn events_name_their_producer_and_a_record_outside_the_table_is_refused() {
    let out = run(opts(0, u64::MAX));
    let first = out
        .lines()
        .find(|l| l.contains(r#""kind":"delta""#))
        .unwrap();
    assert!(
        first.contains(r#""producerId":"feed-1","producerSeq":"#),
        "{first}"
    );
    let mut stray = delta(0, 10, 1, "100", 5, F_LAST);
    stray[80..84].copy_from_slice(&1u32.to_le_bytes());
    let mut r = Replay::new(opts(0, u64::MAX), vec!["\"A\"".into()], producers());
    assert!(r.push(0, &stray, true).is_err());
}
