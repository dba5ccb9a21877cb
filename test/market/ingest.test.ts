/**
 * Ingest through the HTTP API of a one-node cluster: books equal an independently computed
 * reference, duplicates are skipped exactly once, gaps are recorded and mark the book, a bad
 * batch applies nothing, 64-bit values round-trip exactly, and a restart rebuilds the books.
 */
import test from 'ava';
import { parseNdjson, toBinary } from '../../ts/market/batch';
import { CHECKPOINT_EVERY_EVENTS, PRODUCERS_MAX } from '../../ts/market/state';
import { RaftNode } from '../../ts/node/raft_node';
import { ReferenceBook, type RefEvent } from '../helpers/reference_book';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';

type Event = RefEvent & Record<string, unknown>;

async function post(url: string, events: object[]): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  return { status: res.status, json: await res.json() };
}

async function get(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

/** Seeded random L2 deltas on a few price levels around 100. */
function randomDeltas(seed: number, count: number, producerSeqFrom: number): Event[] {
  const random = seededRandom(seed);
  const out: Event[] = [];
  for (let i = 0; i < count; i++) {
    const side = random() < 0.5 ? 'bid' : 'ask';
    const ticks = Math.floor(random() * 20);
    const price = side === 'bid' ? (100 - ticks * 0.25).toFixed(2) : (100.25 + ticks * 0.25).toFixed(2);
    const r = random();
    const action = r < 0.6 ? 'add' : r < 0.85 ? 'modify' : 'cancel';
    out.push({ kind: 'delta', instrument: i % 3 === 0 ? 'MSFT' : 'AAPL', action, side, price, size: action === 'cancel' ? 0 : 1 + Math.floor(random() * 500), orders: 1 + Math.floor(random() * 5), tsEvent: String(1_700_000_000_000_000_000n + BigInt(i)), producerId: 'feed-1', producerSeq: producerSeqFrom + i });
  }
  return out;
}

test('books built from ingested deltas equal a reference book, and survive a restart', async (t) => {
  const { url, node } = await singleNode(t);
  const events = randomDeltas(1, 600, 1);
  for (let i = 0; i < events.length; i += 100) {
    const r = await post(url('/v1/md/events'), events.slice(i, i + 100));
    t.is(r.status, 200, JSON.stringify(r.json));
    t.is(r.json.applied, 100);
  }
  const reference = new Map<string, ReferenceBook>();
  for (const e of events) {
    if (!reference.has(e.instrument)) reference.set(e.instrument, new ReferenceBook());
    reference.get(e.instrument)!.apply(e);
  }
  for (const [symbol, ref] of reference) {
    const book = await get(url(`/v1/md/books/${symbol}?depth=50`));
    t.is(book.status, 200);
    t.deepEqual({ bids: book.json.bids, asks: book.json.asks }, ref.levels(50), symbol);
    t.is(book.json.instrument, symbol);
  }
  const before = await get(url('/v1/md/books/AAPL?depth=50'));
  // Restart: the books come back from what the engine holds.
  const dataDir = (node as unknown as { cfg: { dataDir: string } }).cfg.dataDir;
  const members = (node as unknown as { cfg: { members: Map<number, { host: string; port: number }> } }).cfg.members;
  await node.close();
  const reopened = await RaftNode.open({ id: 1, dataDir, members });
  t.teardown(() => reopened.close());
  t.is(reopened.market.bookView('AAPL', 50), JSON.stringify(before.json));
});

test('a restart rebuilds each book from its newest checkpoint and the events after it (and one without a checkpoint from all of its events)', async (t) => {
  const { url, node } = await singleNode(t);
  // AAPL gets two thirds of the events: past CHECKPOINT_EVERY_EVENTS (one checkpoint, then
  // thousands more); MSFT stays below it (no checkpoint at all).
  const events = randomDeltas(5, 3 * CHECKPOINT_EVERY_EVENTS / 2 + 900, 1);
  for (let i = 0; i < events.length; i += 1000) t.is((await post(url('/v1/md/events'), events.slice(i, i + 1000))).status, 200);
  const reference = new Map<string, ReferenceBook>([['AAPL', new ReferenceBook()], ['MSFT', new ReferenceBook()]]);
  for (const e of events) reference.get(e.instrument)!.apply(e);
  const before = new Map<string, string>();
  for (const symbol of reference.keys()) before.set(symbol, node.market.bookView(symbol, 100)!);
  const dataDir = (node as unknown as { cfg: { dataDir: string } }).cfg.dataDir;
  const members = (node as unknown as { cfg: { members: Map<number, { host: string; port: number }> } }).cfg.members;
  await node.close();
  const reopened = await RaftNode.open({ id: 1, dataDir, members });
  t.teardown(() => reopened.close());
  for (const [symbol, ref] of reference) {
    const view = reopened.market.bookView(symbol, 100)!;
    t.is(view, before.get(symbol) ?? '(none before)', symbol);
    const book = JSON.parse(view) as { bids: unknown; asks: unknown; seq: string };
    t.deepEqual({ bids: book.bids, asks: book.asks }, ref.levels(100), symbol);
  }
});

test('a retried batch is applied exactly once; a partly new one applies only its new records', async (t) => {
  const { url } = await singleNode(t);
  const events = randomDeltas(2, 10, 1);
  const first = await post(url('/v1/md/events'), events);
  t.like(first.json, { applied: 10, duplicates: 0 });
  const again = await post(url('/v1/md/events'), events);
  t.deepEqual(again.json, { firstSeq: null, lastSeq: null, applied: 0, duplicates: 10, gaps: [] });
  const overlap = await post(url('/v1/md/events'), [...events.slice(5), ...randomDeltas(3, 5, 11)]);
  t.like(overlap.json, { applied: 5, duplicates: 5 });
  t.true(BigInt(overlap.json.firstSeq) > BigInt(first.json.lastSeq), 'seqs are one increasing order');
  // A line repeated inside one batch is a duplicate too.
  const repeated = randomDeltas(4, 2, 16);
  t.like((await post(url('/v1/md/events'), [repeated[0], repeated[0], repeated[1]])).json, { applied: 2, duplicates: 1 });
  const feeds = await get(url('/v1/md/feeds'));
  t.deepEqual(feeds.json.producers.map((p: { producerId: string; producerSeq: string }) => [p.producerId, p.producerSeq]), [['feed-1', '17']]);
  // Stored exactly once each, in seq order.
  const stored: { producerSeq: string; seq: string }[] = [];
  for (const symbol of ['AAPL', 'MSFT']) stored.push(...(await get(url(`/v1/md/ticks/${symbol}?limit=100`))).json.events);
  t.deepEqual(stored.map((e) => Number(e.producerSeq)).sort((a, b) => a - b), Array.from({ length: 17 }, (_, i) => i + 1));
  const aapl = (await get(url('/v1/md/ticks/AAPL?limit=100'))).json.events as { seq: string; kind: string; price: string }[];
  t.true(aapl.every((e, i) => i === 0 || BigInt(e.seq) > BigInt(aapl[i - 1].seq)));
  t.is(aapl[0].kind, 'delta');
  const paged = (await get(url(`/v1/md/ticks/AAPL?limit=2&afterSeq=${aapl[0].seq}`))).json;
  t.deepEqual(paged.events.map((e: { seq: string }) => e.seq), aapl.slice(1, 3).map((e) => e.seq));
  t.true(paged.more);
  t.is((await get(url('/v1/md/ticks/AAPL?afterSeq=abc'))).json.error.code, 'invalid_query');
  const last = (await post(url('/v1/md/events'), randomDeltas(5, 1, 18))).json.lastSeq as string;
  t.like((await get(url('/v1/md/feeds'))).json.producers[0], { firstSeq: first.json.firstSeq, lastSeq: last }, "a producer's seq range spans all its batches");
  t.is((await get(url('/v1/md/ticks/AAPL?limit=0'))).json.error.code, 'invalid_limit');
});

test('a ticks page after any seq holds exactly the next events, whichever block that seq is in', async (t) => {
  const { url } = await singleNode(t);
  for (let b = 0; b < 12; b++) t.is((await post(url('/v1/md/events'), randomDeltas(100 + b, 10, 1 + b * 10))).status, 200);
  const all = ((await get(url('/v1/md/ticks/AAPL?limit=10000'))).json.events as { seq: string }[]).map((e) => e.seq);
  t.is(all.length, 12 * 6, 'AAPL has 6 of every 10 events');
  // After each stored seq, after the seq just past it (between two of a batch's records or
  // between batches), and from the start.
  const afters = [0n, ...all.flatMap((s) => [BigInt(s), BigInt(s) + 1n])];
  for (const after of afters) {
    const page = (await get(url(`/v1/md/ticks/AAPL?limit=3&afterSeq=${after}`))).json as { events: { seq: string }[]; more: boolean };
    const expected = all.filter((s) => BigInt(s) > after);
    t.deepEqual(page.events.map((e) => e.seq), expected.slice(0, 3), `after ${after}`);
    t.is(page.more, expected.length > 3, `after ${after}`);
  }
});

test('a venueSeq gap is reported, recorded, and marks the book until a snapshot', async (t) => {
  const { url } = await singleNode(t);
  const d = (producerSeq: number, venueSeq: number, extra: object = {}) => ({ kind: 'delta', instrument: 'ES', action: 'add', side: 'bid', price: '5000.25', size: producerSeq, tsEvent: producerSeq, producerId: 'p', producerSeq, venueSeq, publisher: 2, ...extra });
  t.deepEqual((await post(url('/v1/md/events'), [d(1, 1), d(2, 2)])).json.gaps, []);
  const gapped = await post(url('/v1/md/events'), [d(3, 7)]);
  t.like(gapped.json.gaps[0], { instrument: 'ES', publisher: 2, from: '3', to: '6' });
  t.true((await get(url('/v1/md/books/ES'))).json.maybeBad);
  t.is((await get(url('/v1/md/feeds'))).json.gaps.length, 1);
  await post(url('/v1/md/events'), [d(4, 8, { action: 'snapshot', last: false }), d(5, 9, { action: 'snapshot', side: 'ask', price: '5000.5' })]);
  const book = (await get(url('/v1/md/books/ES'))).json;
  t.false(book.maybeBad);
  t.deepEqual([book.bestBid, book.bestAsk, book.spread, book.mid], ['5000.25', '5000.5', '0.25', '5000.375']);
});

test('venue high-water marks set by many records of one batch survive a restart: the next gap is measured from the last', async (t) => {
  const first = await singleNode(t);
  const d = (n: number) => ({ kind: 'delta', instrument: 'NQ', action: 'add', side: 'bid', price: '100', size: n, tsEvent: n, producerId: 'v', producerSeq: n, venueSeq: n, publisher: 3 });
  t.deepEqual((await post(first.url('/v1/md/events'), [1, 2, 3, 4, 5].map(d))).json.gaps, []);
  const cfg = (first.node as unknown as { cfg: { dataDir: string; members: Map<number, { host: string; port: number }> } }).cfg;
  await first.node.close();
  const again = await singleNode(t, { dataDir: cfg.dataDir, members: cfg.members });
  // 6 is skipped: the gap is 6..6 only if the mark that survived is 5, the batch's last.
  const gaps = (await post(again.url('/v1/md/events'), [d(7)])).json.gaps;
  t.is(gaps.length, 1);
  t.like(gaps[0], { instrument: 'NQ', publisher: 3, from: '6', to: '6' });
});

test('64-bit values round-trip exactly; a bad batch applies nothing and names its line', async (t) => {
  const { url } = await singleNode(t);
  const ok = await post(url('/v1/md/events'), [{ kind: 'delta', instrument: 'X', action: 'add', side: 'ask', price: '1.5', size: 1, tsEvent: '1700000000000000001', producerId: 'p', producerSeq: 1 }]);
  t.is(ok.status, 200);
  t.is((await get(url('/v1/md/books/X'))).json.tsEvent, '1700000000000000001');
  const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"kind":"delta","instrument":"X","action":"add","side":"ask","price":"2","size":1,"tsEvent":1700000000000000002,"producerId":"p","producerSeq":2}\n{"kind":"delta","instrument":"X","action":"add","side":"ask","price":"2.5","size":"big","tsEvent":3,"producerId":"p","producerSeq":3}' });
  const bad = (await res.json()) as any;
  t.is(res.status, 400);
  t.is(bad.error.code, 'invalid_event');
  t.is(bad.error.line, 2);
  const book = (await get(url('/v1/md/books/X'))).json;
  t.deepEqual(book.asks, [{ price: '1.5', size: 1, orders: 0 }], 'nothing of the bad batch was applied');
  t.is((await get(url('/v1/md/books/NOPE'))).json.error.code, 'unknown_instrument');
  t.is((await get(url('/v1/md/books/X?depth=0'))).json.error.code, 'invalid_depth');
  const wrongType = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
  t.is(wrongType.status, 415);
});

test('the binary fast path stores the same events and books as NDJSON; malformed bodies are refused', async (t) => {
  const { url } = await singleNode(t);
  const events = randomDeltas(5, 200, 1);
  const viaText = randomDeltas(5, 200, 1).map((e) => ({ ...e, producerId: 'text', instrument: `T${e.instrument}` }));
  const batch = parseNdjson(Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')), 0n);
  const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: toBinary(batch) });
  t.is(res.status, 200);
  t.like(await res.json(), { applied: 200, duplicates: 0 });
  t.is((await post(url('/v1/md/events'), viaText)).status, 200);
  for (const symbol of ['AAPL', 'MSFT']) {
    const binary = (await get(url(`/v1/md/books/${symbol}?depth=50`))).json;
    const text = (await get(url(`/v1/md/books/T${symbol}?depth=50`))).json;
    t.deepEqual([binary.bids, binary.asks], [text.bids, text.asks], symbol);
  }
  const bad = Buffer.from(toBinary(batch));
  bad[bad.length - 96] = 9; // the last record's kind
  const refused = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bad });
  t.is(refused.status, 400);
  t.like(((await refused.json()) as any).error, { code: 'invalid_event', line: 200 });
  const truncated = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: toBinary(batch).subarray(0, 50) });
  t.is(truncated.status, 400);
});

test('books/top answers many instruments in one cut; vwap walks the book to fill a size', async (t) => {
  const { url } = await singleNode(t);
  const d = (instrument: string, producerSeq: number, side: string, price: string, size: number) => ({ kind: 'delta', instrument, action: 'add', side, price, size, tsEvent: producerSeq, producerId: 'p', producerSeq });
  await post(url('/v1/md/events'), [d('A', 1, 'ask', '10.5', 100), d('A', 2, 'ask', '10.75', 50), d('A', 3, 'ask', '11', 500), d('A', 4, 'bid', '10.25', 30), d('B', 5, 'bid', '99', 7)]);
  const res = await fetch(url('/v1/md/books/top'), { method: 'POST', body: JSON.stringify({ instruments: ['A', 'B', 'C'] }) });
  const top = (await res.json()) as any;
  t.deepEqual(top.missing, ['C']);
  t.like(top.books[0], { instrument: 'A', bestBid: '10.25', bidSize: 30, bestAsk: '10.5', askSize: 100, spread: '0.25', mid: '10.375' });
  t.like(top.books[1], { instrument: 'B', bestBid: '99', bestAsk: null, spread: null });
  t.is(top.books[0].seq, (await get(url('/v1/md/books/A'))).json.seq);
  // Buy 200: 100 @ 10.5 + 50 @ 10.75 + 50 @ 11 = 2137.5 / 200 = 10.6875.
  t.like((await get(url('/v1/md/books/A/vwap?side=buy&qty=200'))).json, { filled: 200, complete: true, avgPrice: '10.6875', worstPrice: '11', levels: 3 });
  t.like((await get(url('/v1/md/books/A/vwap?side=sell&qty=100'))).json, { filled: 30, complete: false, avgPrice: '10.25' });
  t.is((await get(url('/v1/md/books/A/vwap?side=up&qty=1'))).status, 400);
  t.is((await get(url('/v1/md/books/Z/vwap?side=buy&qty=1'))).status, 404);
});

test('stored events name their producer in ticks and replays, across a restart; a batch past PRODUCERS_MAX is refused whole', async (t) => {
  const first = await singleNode(t);
  const e = (instrument: string, producerId: string, producerSeq: number) => ({ kind: 'trade', instrument, price: '10', size: 1, side: 'buy', tsEvent: producerSeq, producerId, producerSeq });
  t.is((await post(first.url('/v1/md/events'), [e('A', 'feed-a', 1), e('A', 'feed-b', 1), e('B', 'feed-a', 2)])).status, 200);
  t.is((await post(first.url('/v1/md/events'), [e('B', 'feed-c', 3)])).status, 200);
  const producersOf = async (url: (p: string) => string, symbol: string) => ((await get(url(`/v1/md/ticks/${symbol}`))).json.events as { producerId: string }[]).map((x) => x.producerId);
  t.deepEqual(await producersOf(first.url, 'A'), ['feed-a', 'feed-b']);
  t.deepEqual(await producersOf(first.url, 'B'), ['feed-a', 'feed-c']);
  const replay = await fetch(first.url('/v1/md/replay'), { method: 'POST', body: JSON.stringify({ instruments: ['A', 'B'], kinds: ['trade'] }) });
  const lines = (await replay.text()).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; producerId?: string; producerSeq?: string });
  t.deepEqual(lines.filter((l) => l.kind === 'trade').map((l) => [l.producerId, l.producerSeq]), [['feed-a', '1'], ['feed-b', '1'], ['feed-a', '2'], ['feed-c', '3']]);

  const cfg = (first.node as unknown as { cfg: { dataDir: string; members: Map<number, { host: string; port: number }> } }).cfg;
  await first.node.close();
  const again = await singleNode(t, { dataDir: cfg.dataDir, members: cfg.members });
  t.is((await post(again.url('/v1/md/events'), [e('A', 'feed-d', 1), e('A', 'feed-b', 2)])).status, 200);
  t.deepEqual(await producersOf(again.url, 'A'), ['feed-a', 'feed-b', 'feed-d', 'feed-b'], 'ids loaded at restart, and a new producer gets a fresh one');

  const many = Array.from({ length: PRODUCERS_MAX - 3 }, (_, i) => e('C', `p${i}`, 1));
  const refused = await post(again.url('/v1/md/events'), many);
  t.is(refused.status, 409);
  t.is(refused.json.error.code, 'too_many_producers');
  t.is((await get(again.url('/v1/md/feeds'))).json.producers.length, 4, 'nothing of the refused batch was applied');
  t.is((await post(again.url('/v1/md/events'), many.slice(1))).status, 200, 'up to the limit is accepted');
});
