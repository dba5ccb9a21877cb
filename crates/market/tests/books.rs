use market::{
    format_price, parse_price, Action, Book, Books, Delta, Side, DELTA_BYTES, F_LAST,
    F_MAYBE_BAD_BOOK, F_SNAPSHOT,
};

fn delta(action: Action, side: u8, price: &str, size: u64, flags: u8, seq: u64) -> Delta {
    Delta {
        kind: 1,
        action,
        side,
        flags,
        instrument: 7,
        orders: 1,
        price: parse_price(price).unwrap(),
        size,
        ts_event: seq * 10,
        seq,
    }
}

fn batch(deltas: &[Delta]) -> Vec<u8> {
    deltas.iter().flat_map(|d| d.encode()).collect()
}

fn levels(book: &Book, side: Side) -> Vec<(String, u64)> {
    book.levels(side, 100)
        .into_iter()
        .map(|(p, l)| (format_price(p), l.size))
        .collect()
}

#[test]
fn l2_levels_follow_add_modify_cancel_and_size_zero() {
    let mut books = Books::new(100);
    let dirty = books
        .apply_batch(&batch(&[
            delta(Action::Add, 1, "101.25", 300, F_LAST, 1),
            delta(Action::Add, 1, "101.5", 100, F_LAST, 2),
            delta(Action::Add, 2, "102", 50, F_LAST, 3),
            delta(Action::Modify, 1, "101.25", 200, F_LAST, 4),
            delta(Action::Add, 2, "102.5", 70, F_LAST, 5),
            delta(Action::Cancel, 2, "102.5", 0, F_LAST, 6),
            delta(Action::Modify, 1, "101.5", 0, F_LAST, 7),
        ]))
        .unwrap();
    assert_eq!(dirty, vec![7]);
    let book = books.get(7).unwrap();
    assert_eq!(levels(book, Side::Bid), vec![("101.25".into(), 200)]);
    assert_eq!(levels(book, Side::Ask), vec![("102".into(), 50)]);
    assert_eq!(book.seq, 7);
}

#[test]
fn a_snapshot_replaces_the_book_and_clears_maybe_bad() {
    let mut books = Books::new(100);
    books
        .apply_batch(&batch(&[
            delta(Action::Add, 1, "99", 5, F_LAST, 1),
            delta(Action::Add, 1, "98", 5, F_LAST | F_MAYBE_BAD_BOOK, 2),
        ]))
        .unwrap();
    assert!(books.get(7).unwrap().maybe_bad);
    books
        .apply_batch(&batch(&[
            delta(Action::Snapshot, 1, "100", 1, F_SNAPSHOT, 3),
            delta(Action::Snapshot, 2, "101", 2, F_SNAPSHOT | F_LAST, 4),
        ]))
        .unwrap();
    let book = books.get(7).unwrap();
    assert_eq!(levels(book, Side::Bid), vec![("100".into(), 1)]);
    assert_eq!(levels(book, Side::Ask), vec![("101".into(), 2)]);
    assert!(!book.maybe_bad);
}

#[test]
fn clear_empties_both_sides_and_trades_leave_levels_alone() {
    let mut books = Books::new(100);
    let mut trade = delta(Action::Trade, 1, "100", 3, F_LAST, 3);
    trade.kind = 2;
    books
        .apply_batch(&batch(&[
            delta(Action::Add, 1, "100", 5, F_LAST, 1),
            delta(Action::Add, 2, "101", 5, F_LAST, 2),
            trade,
        ]))
        .unwrap();
    assert_eq!(books.get(7).unwrap().level_count(Side::Bid), 1);
    assert_eq!(books.get(7).unwrap().seq, 3);
    books
        .apply_batch(&batch(&[delta(Action::Clear, 0, "0", 0, F_LAST, 4)]))
        .unwrap();
    assert_eq!(
        books.get(7).unwrap().level_count(Side::Bid) + books.get(7).unwrap().level_count(Side::Ask),
        0
    );
}

#[test]
fn a_full_side_evicts_the_level_farthest_from_the_touch() {
    let mut books = Books::new(3);
    let adds: Vec<Delta> = ["100", "99", "98", "101", "97"]
        .iter()
        .enumerate()
        .map(|(i, p)| delta(Action::Add, 1, p, 1, F_LAST, i as u64 + 1))
        .collect();
    books.apply_batch(&batch(&adds)).unwrap();
    let kept: Vec<String> = levels(books.get(7).unwrap(), Side::Bid)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(kept, vec!["101", "100", "99"]);
}

#[test]
fn a_malformed_batch_is_refused_whole_before_anything_applies() {
    let mut books = Books::new(10);
    let mut bytes = batch(&[
        delta(Action::Add, 1, "100", 1, F_LAST, 1),
        delta(Action::Add, 1, "101", 1, F_LAST, 2),
    ]);
    bytes[DELTA_BYTES + 1] = 42; // the second record's action
    assert_eq!(books.apply_batch(&bytes).unwrap_err().code(), "MD_INVALID");
    assert!(books.is_empty());
    assert_eq!(
        books
            .apply_batch(&bytes[..DELTA_BYTES + 3])
            .unwrap_err()
            .code(),
        "MD_INVALID"
    );
}

#[test]
fn books_round_trip_through_their_stored_form_and_render_as_json() {
    let mut books = Books::new(10);
    books
        .apply_batch(&batch(&[
            delta(Action::Add, 1, "101.25", 300, F_LAST, 1),
            delta(Action::Add, 2, "101.5", 100, F_LAST | F_MAYBE_BAD_BOOK, 2),
        ]))
        .unwrap();
    let stored = books.get(7).unwrap().encode();
    let mut other = Books::new(10);
    other.load(7, &stored).unwrap();
    assert_eq!(other.get(7), books.get(7));
    assert_eq!(
        other.get(7).unwrap().view_json("\"AAPL\"", 10),
        r#"{"instrument":"AAPL","seq":"2","tsEvent":"20","bids":[{"price":"101.25","size":300,"orders":1}],"asks":[{"price":"101.5","size":100,"orders":1}],"bestBid":"101.25","bestAsk":"101.5","spread":"0.25","mid":"101.375","maybeBad":true}"#
    );
    assert_eq!(
        Book::decode(&stored[..stored.len() - 1])
            .unwrap_err()
            .code(),
        "MD_CORRUPT"
    );
}

#[test]
fn an_odd_mid_keeps_its_half_unit() {
    let mut books = Books::new(10);
    books
        .apply_batch(&batch(&[
            delta(Action::Add, 1, "1.000000001", 1, F_LAST, 1),
            delta(Action::Add, 2, "1.000000002", 1, F_LAST, 2),
        ]))
        .unwrap();
    assert!(books
        .get(7)
        .unwrap()
        .view_json("\"X\"", 1)
        .contains(r#""mid":"1.0000000015""#));
}
