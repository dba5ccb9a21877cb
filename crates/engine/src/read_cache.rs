//! The applied state's hottest values, in memory: key reads (GET and multi-get) look here before
//! RocksDB (a lookup there costs ~3–4 µs a key). The node keeps it coherent: it applies each
//! batch's writes here (`applied`) in the same turn that moves its applied index, after the
//! batch is durable in the engine, so a read served after its read index was applied sees
//! exactly what the engine would answer. Only user keys (a key starting with NUL is the store's
//! own state); absent keys are not cached.
//!
//! A cached key also keeps its answer items — the JSON a read answers with, in each `Shape` —
//! rendered at its first read in that shape after each write, so a hot key is read by copying
//! bytes. Here rather than in a JavaScript Map: a lookup there walked ~6 dependent pointers
//! (bucket, entry, key string, record, Buffer, bytes), and at 10,000 hot keys those cache misses
//! were a fifth of a leader serving multi-gets (perf); this table's are ~4.
//!
//! Limits: `READ_CACHE_ENTRIES_MAX` entries and `READ_CACHE_BYTES_MAX` bytes of values and
//! rendered items; past either, the oldest entries (by first insertion; a write keeps a cached
//! key's place) are dropped, 1/16 of the limit at once.

use std::collections::{HashMap, VecDeque};

use smallvec::SmallVec;

use crate::batch::{decode, Op};
use crate::error::{EngineError, Result};

pub const READ_CACHE_ENTRIES_MAX: usize = 200_000;
pub const READ_CACHE_BYTES_MAX: usize = 64 << 20;
/// An eviction pass frees 1/2^shift of the limits (1/16: 12,500 entries or 4 MiB at the defaults).
const EVICT_SLACK_SHIFT: u32 = 4;
const RESERVED: u8 = 0;
/// A key, kept in the table's own slot up to 24 bytes (no pointer to chase: a lookup that
/// compared a heap-allocated key spent a tenth of a leader in that miss).
type Key = SmallVec<[u8; 24]>;

/// The shapes a key's answer item takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `{"key":…,"value":…,"revision":n}`: GET, and multi-gets listing the keys found.
    Keyed = 0,
    /// `{"value":…,"revision":n}`: multi-gets answering one item per key asked, in order.
    Positional = 1,
}

struct Cached {
    /// The stored value: revision (u64 LE) then the value's JSON text.
    stored: Box<[u8]>,
    items: [Option<Box<[u8]>>; 2],
    /// When the key was first inserted (its place in `order`).
    born: u64,
}

impl Cached {
    fn bytes(&self) -> usize {
        self.stored.len() + self.items.iter().flatten().map(|i| i.len()).sum::<usize>()
    }
}

pub struct ReadCache {
    map: HashMap<Key, Cached>,
    /// Keys by first insertion; an entry whose key was deleted (or re-inserted later) is stale
    /// and skipped. Invariant: every cached key has exactly one live entry here.
    order: VecDeque<(u64, Key)>,
    born: u64,
    bytes: usize,
    entries_max: usize,
    bytes_max: usize,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self::new(READ_CACHE_ENTRIES_MAX, READ_CACHE_BYTES_MAX)
    }
}

impl ReadCache {
    pub fn new(entries_max: usize, bytes_max: usize) -> Self {
        assert!(entries_max >= 1, "the read cache holds at least one entry");
        ReadCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            born: 0,
            bytes: 0,
            entries_max,
            bytes_max,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of values and rendered items held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// The keys not cached, by index. Each lookup also reads what the answer will copy (the
    /// item's first byte): these lookups are independent, so the CPU can overlap their cache
    /// misses, and the answer, written next, finds those lines warm (alternating A/B, 4 pairs of
    /// 1,000 client readers: leader 1.25–1.42 against 1.33–1.62 CPU-µs per read, within noise).
    fn touch(&self, keys: &[&[u8]], shape: Shape) -> Vec<usize> {
        let mut missing = Vec::new();
        let mut sum = 0u8;
        for (i, key) in keys.iter().enumerate() {
            match self.map.get(*key) {
                Some(c) => {
                    sum = sum.wrapping_add(
                        c.items[shape as usize]
                            .as_ref()
                            .map_or(c.stored[0], |item| item[0]),
                    )
                }
                None => missing.push(i),
            }
        }
        std::hint::black_box(sum);
        missing
    }

    /// The stored value of `key` if cached.
    pub fn stored(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(|c| &*c.stored)
    }

    /// Appends `key`'s answer item in `shape` to `out` if cached (rendered now if not yet since
    /// its last write); false (nothing appended): not cached, ask the engine.
    pub fn append_item(&mut self, key: &[u8], shape: Shape, out: &mut Vec<u8>) -> Result<bool> {
        let appended = self.append_item_held(key, shape, out)?;
        self.evict(Some(key));
        Ok(appended)
    }

    /// `append_item` without evicting (`read_into` evicts once its answer is laid out).
    fn append_item_held(&mut self, key: &[u8], shape: Shape, out: &mut Vec<u8>) -> Result<bool> {
        let Some(c) = self.map.get_mut(key) else {
            return Ok(false);
        };
        if let Some(item) = &c.items[shape as usize] {
            out.extend_from_slice(item);
            return Ok(true);
        }
        let item = render(key, &c.stored, shape)?.into_boxed_slice();
        out.extend_from_slice(&item);
        self.bytes += item.len();
        c.items[shape as usize] = Some(item);
        Ok(true)
    }

    /// A value read from the engine at the applied index: kept for the next read.
    pub fn fill(&mut self, key: &[u8], stored: &[u8]) {
        self.fill_held(key, stored);
        self.evict(Some(key));
    }

    /// `fill` without evicting.
    fn fill_held(&mut self, key: &[u8], stored: &[u8]) {
        if key.first() != Some(&RESERVED) && !self.map.contains_key(key) {
            self.insert(key, stored);
        }
    }

    /// A batch was applied (the packed batch the engine wrote): its writes replace what the cache held.
    pub fn applied(&mut self, packed: &[u8]) -> Result<()> {
        for op in decode(packed)? {
            match op {
                Op::Put(key, value) if key.first() != Some(&RESERVED) => self.set(key, value),
                Op::Delete(key) | Op::Uncache(key) if key.first() != Some(&RESERVED) => {
                    self.remove(key)
                }
                // Its keys come as `Uncache` ops beside it (the cache holds no range index).
                Op::DeleteRange(..) => {}
                _ => {}
            }
        }
        Ok(())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.insert(key, value);
        self.evict(Some(key));
    }

    /// `set` without evicting.
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        // A key already cached is updated in place: it keeps its place in the eviction order.
        if let Some(old) = self.map.get_mut(key) {
            self.bytes = self.bytes + value.len() - old.bytes();
            old.stored = value.into();
            old.items = [None, None];
        } else {
            self.born += 1;
            self.map.insert(
                key.into(),
                Cached {
                    stored: value.into(),
                    items: [None, None],
                    born: self.born,
                },
            );
            self.order.push_back((self.born, Key::from_slice(key)));
            self.bytes += value.len();
        }
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(c) = self.map.remove(key) {
            self.bytes -= c.bytes();
        }
        // Deletes leave stale entries in `order`: past twice the live ones, drop them (amortised O(1)).
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order
                .retain(|(born, k)| map.get(k).is_some_and(|c| c.born == *born));
        }
    }

    /// Back under both limits (a pass evicts down to 15/16 of them); `keep` stays.
    fn evict(&mut self, keep: Option<&[u8]>) {
        if self.map.len() <= self.entries_max && self.bytes <= self.bytes_max {
            return;
        }
        let entries_to = self.entries_max - (self.entries_max >> EVICT_SLACK_SHIFT).max(1);
        let bytes_to = self.bytes_max - (self.bytes_max >> EVICT_SLACK_SHIFT);
        while self.map.len() > entries_to || self.bytes > bytes_to {
            let Some((born, key)) = self.order.pop_front() else {
                break;
            };
            let live = self.map.get(&key).is_some_and(|c| c.born == born);
            if !live {
                continue;
            }
            if keep == Some(&*key) {
                self.order.push_front((born, key));
                break;
            }
            let c = self
                .map
                .remove(&key)
                .expect("a live order entry names a cached key");
            self.bytes -= c.bytes();
        }
    }
}

/// A stored value's revision and JSON text (corrupt: shorter than its revision).
fn split_stored(stored: &[u8]) -> Result<(u64, &[u8])> {
    if stored.len() < 8 {
        return Err(EngineError::Corrupt(format!(
            "a stored value of {} bytes has no revision",
            stored.len()
        )));
    }
    let (revision, value) = stored.split_at(8);
    Ok((u64::from_le_bytes(revision.try_into().unwrap()), value))
}

/// A key's answer item in `shape` from its stored value (revision u64 LE, then the value's JSON
/// text, spliced in as it is).
pub fn render(key: &[u8], stored: &[u8], shape: Shape) -> Result<Vec<u8>> {
    let (revision, value) = split_stored(stored)?;
    let mut out = Vec::with_capacity(value.len() + key.len() + 48);
    match shape {
        Shape::Keyed => {
            out.extend_from_slice(b"{\"key\":");
            json_string(key, &mut out);
            out.extend_from_slice(b",\"value\":");
        }
        Shape::Positional => out.extend_from_slice(b"{\"value\":"),
    }
    out.extend_from_slice(value);
    out.extend_from_slice(b",\"revision\":");
    out.extend_from_slice(revision.to_string().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// `text` (UTF-8) as a JSON string, escaped as JavaScript's JSON.stringify escapes it.
pub fn json_string(text: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The keys of a multi-get body in the compact shape clients send (`{"keys":["a","b"]}`: valid
/// UTF-8, no whitespace, no other field, keys without escapes or control characters), as the
/// API's `compactKeys` reads them. None: any other shape (the caller parses it as JSON).
pub fn compact_keys(body: &[u8]) -> Option<Vec<&[u8]>> {
    const OPEN: &[u8] = b"{\"keys\":[";
    const CLOSE: &[u8] = b"]}";
    std::str::from_utf8(body).ok()?;
    let inner = body.strip_prefix(OPEN)?.strip_suffix(CLOSE)?;
    let mut keys = Vec::new();
    let mut at = 0;
    while at < inner.len() {
        if inner[at] != b'"' {
            return None;
        }
        let len = inner[at + 1..].iter().position(|&b| b == b'"')?;
        let key = &inner[at + 1..at + 1 + len];
        if key.iter().any(|&b| b < 0x20 || b == b'\\') {
            return None;
        }
        keys.push(key);
        at += len + 2;
        if at < inner.len() {
            if inner[at] != b',' || at + 1 == inner.len() {
                return None;
            }
            at += 1;
        }
    }
    Some(keys)
}

/// How `read_into` lays out the answer items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One `[len i32][item]` per key, `-1` and no item where absent (the API assembles).
    Packed,
    /// The whole multi-get answer `{"items":[…]}`: keyed, the items found; positional, one per key, `null` where absent.
    Answer,
    /// The whole multi-get answer as two arrays, one entry per key asked, `null` in both where
    /// absent: `{"values":[…],"revisions":[…]}`. A client parses two arrays instead of an object
    /// per key (half the CPU in V8's JSON.parse); the items are not rendered, so `shape` is moot.
    Columns,
}

/// Reads the values of `keys` from the engine (one batched read; None: absent).
pub type Fetch<'a> = &'a dyn Fn(&[&[u8]]) -> Result<Vec<Option<Vec<u8>>>>;

/// The answer items of `keys` in `shape`: from the cache, the misses from `fetch` (and kept
/// there for the next read). `fetch` None — engine reads must wait (a batch written but not yet
/// published) — gives None when any key misses.
pub fn read_into(
    cache: &mut ReadCache,
    keys: &[&[u8]],
    shape: Shape,
    layout: Layout,
    fetch: Option<Fetch>,
) -> Result<Option<Vec<u8>>> {
    let Some(found) = fetch_missing(cache, keys, shape, fetch)? else {
        return Ok(None);
    };
    // Invariant: nothing is evicted until the answer is laid out — a key that was cached when
    // it was looked up is still cached when its item is written (an eviction in between, by a
    // fill or a rendered item, would answer a present key as absent). The cache may exceed its
    // limits by one answer's keys meanwhile.
    let out = match layout {
        Layout::Columns => columns(cache, keys, &found),
        Layout::Packed | Layout::Answer => items(cache, keys, shape, layout, &found),
    };
    cache.evict(None);
    out.map(Some)
}

/// The engine's values of the keys `cache` misses, by position in `keys`, each also kept in the
/// cache (not evicting); None when a key misses and `fetch` is None.
fn fetch_missing(
    cache: &mut ReadCache,
    keys: &[&[u8]],
    shape: Shape,
    fetch: Option<Fetch>,
) -> Result<Option<HashMap<usize, Vec<u8>>>> {
    let missing = cache.touch(keys, shape);
    let mut found: HashMap<usize, Vec<u8>> = HashMap::new();
    if missing.is_empty() {
        return Ok(Some(found));
    }
    let Some(fetch) = fetch else {
        return Ok(None);
    };
    let values = fetch(&missing.iter().map(|&i| keys[i]).collect::<Vec<_>>())?;
    assert_eq!(
        values.len(),
        missing.len(),
        "the engine answers every key asked"
    );
    for (&i, value) in missing.iter().zip(values) {
        if let Some(v) = value {
            cache.fill_held(keys[i], &v);
            // (Kept: a reserved key is not cached.)
            found.insert(i, v);
        }
    }
    Ok(Some(found))
}

/// `Layout::Packed` or `Layout::Answer` for `keys`: each item from the cache, else from `found`.
fn items(
    cache: &mut ReadCache,
    keys: &[&[u8]],
    shape: Shape,
    layout: Layout,
    found: &HashMap<usize, Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16 + keys.len() * 64);
    if layout == Layout::Answer {
        out.extend_from_slice(b"{\"items\":[");
    }
    let mut listed = 0usize;
    for (i, key) in keys.iter().enumerate() {
        let at = out.len();
        match layout {
            Layout::Packed => out.extend_from_slice(&[0; 4]),
            Layout::Answer if listed > 0 => out.push(b','),
            Layout::Answer | Layout::Columns => {}
        }
        let start = out.len();
        let present = cache.append_item_held(key, shape, &mut out)?
            || match found.get(&i) {
                Some(v) => {
                    out.extend_from_slice(&render(key, v, shape)?);
                    true
                }
                None => false,
            };
        match (layout, present) {
            (Layout::Packed, true) => {
                let len = i32::try_from(out.len() - start).expect("an item fits an i32 length");
                out[at..at + 4].copy_from_slice(&len.to_le_bytes());
            }
            (Layout::Packed, false) => out[at..at + 4].copy_from_slice(&(-1i32).to_le_bytes()),
            (Layout::Answer, true) => listed += 1,
            (Layout::Answer, false) if shape == Shape::Positional => {
                out.extend_from_slice(b"null");
                listed += 1;
            }
            (Layout::Answer, false) => out.truncate(at),
            (Layout::Columns, _) => unreachable!("columns are laid out by `columns`"),
        }
    }
    if layout == Layout::Answer {
        out.extend_from_slice(b"]}");
    }
    Ok(out)
}

/// `{"values":[…],"revisions":[…]}` for `keys`: each from the cache, else from `found` (the
/// engine's answers by key position), else `null` in both arrays.
fn columns(cache: &ReadCache, keys: &[&[u8]], found: &HashMap<usize, Vec<u8>>) -> Result<Vec<u8>> {
    let mut values = Vec::with_capacity(16 + keys.len() * 64);
    let mut revisions = Vec::with_capacity(16 + keys.len() * 12);
    values.extend_from_slice(b"{\"values\":[");
    revisions.extend_from_slice(b"],\"revisions\":[");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            values.push(b',');
            revisions.push(b',');
        }
        let Some(stored) = cache
            .stored(key)
            .or_else(|| found.get(&i).map(Vec::as_slice))
        else {
            values.extend_from_slice(b"null");
            revisions.extend_from_slice(b"null");
            continue;
        };
        let (revision, value) = split_stored(stored)?;
        values.extend_from_slice(value);
        revisions.extend_from_slice(revision.to_string().as_bytes());
    }
    values.extend_from_slice(&revisions);
    values.extend_from_slice(b"]}");
    Ok(values)
}
