/**
 * Live market streams: a book snapshot then every later event (applying them to the snapshot
 * gives the book the store holds), and a resume from a seq that replays stored events then
 * switches to live ones with nothing lost or repeated.
 */
import test from 'ava';
import { ReferenceBook } from '../helpers/reference_book';
import { singleNode } from '../helpers/single_node';
import { openStream } from '../helpers/stream_reader';

let producerSeq = 0;
const delta = (side: string, price: string, size: number) => ({ kind: 'delta', instrument: 'A', action: size === 0 ? 'cancel' : 'add', side, price, size, orders: 1, tsEvent: ++producerSeq, producerId: 'p', producerSeq });

async function post(url: string, events: object[]): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
}

test('a stream starts with the book, then live events and books; the events rebuild the book', async (t) => {
  const { url } = await singleNode(t);
  await post(url('/v1/md/events'), [delta('bid', '10', 5), delta('ask', '11', 7), { kind: 'trade', instrument: 'B', price: '1', size: 1, tsEvent: 1, producerId: 'q', producerSeq: 1 }]);
  const s = await openStream(url('/v1/md/stream?instruments=A&kinds=delta,trade,book&depth=5'));
  t.teardown(s.close);
  const snapshot = await s.next();
  t.like(snapshot, { kind: 'book', instrument: 'A', bestBid: '10', bestAsk: '11' });
  const live = [delta('bid', '10.5', 3), delta('ask', '11', 0), delta('ask', '11.25', 2)];
  await post(url('/v1/md/events'), live);
  const events = [await s.next(), await s.next(), await s.next()];
  t.deepEqual(events.map((e) => [e.kind, e.side, e.price, e.size]), live.map((e) => ['delta', e.side, e.price, e.size]));
  t.true(events.every((e, i) => BigInt(e.seq) > (i === 0 ? BigInt(snapshot.seq) : BigInt(events[i - 1].seq))));
  const book = await s.next();
  t.is(book.kind, 'book');
  const stored = (await (await fetch(url('/v1/md/books/A?depth=5'))).json()) as { bids: unknown; asks: unknown; seq: string };
  t.deepEqual([book.bids, book.asks, book.seq], [stored.bids, stored.asks, stored.seq]);
  // The snapshot plus the live deltas is the store's book.
  const rebuilt = new ReferenceBook();
  for (const l of [...snapshot.bids.map((b: object) => ({ ...b, side: 'bid' })), ...snapshot.asks.map((a: object) => ({ ...a, side: 'ask' }))]) rebuilt.apply({ kind: 'delta', instrument: 'A', action: 'add', ...l });
  for (const e of events) rebuilt.apply(e);
  t.deepEqual(rebuilt.levels(5), { bids: stored.bids, asks: stored.asks });
});

test('a stream resumed from a seq replays stored events, then live ones, each once in seq order', async (t) => {
  const { url } = await singleNode(t);
  const first = Array.from({ length: 30 }, (_, i) => delta(i % 2 ? 'bid' : 'ask', (10 + (i % 5) * 0.25).toFixed(2), 1 + i));
  await post(url('/v1/md/events'), first.slice(0, 10));
  await post(url('/v1/md/events'), first.slice(10));
  const all = ((await (await fetch(url('/v1/md/ticks/A?limit=100'))).json()) as { events: { seq: string }[] }).events;
  t.is(all.length, 30);
  const from = all[9].seq;
  const s = await openStream(url(`/v1/md/stream?instruments=A&kinds=delta&fromSeq=${from}`));
  t.teardown(s.close);
  const later = [delta('bid', '9', 1), delta('ask', '12', 1)];
  await post(url('/v1/md/events'), later);
  const got: { seq: string; price: string }[] = [];
  for (let i = 0; i < 22; i++) got.push(await s.next());
  t.deepEqual(got.slice(0, 20).map((e) => e.seq), all.slice(10).map((e) => e.seq));
  t.deepEqual(got.slice(20).map((e) => e.price), ['9', '12']);
  t.true(got.every((e, i) => i === 0 || BigInt(e.seq) > BigInt(got[i - 1].seq)));
});

test('a stream of an instrument that has a name but no book yet starts empty and goes live', async (t) => {
  const { url } = await singleNode(t);
  await post(url('/v1/md/events'), [{ kind: 'trade', instrument: 'A', price: '1', size: 1, tsEvent: 1, producerId: 'z', producerSeq: 1 }]);
  // The same producerSeq for a new instrument: a duplicate, so B gets an id but no book.
  await post(url('/v1/md/events'), [{ kind: 'trade', instrument: 'B', price: '1', size: 1, tsEvent: 2, producerId: 'z', producerSeq: 1 }]);
  const s = await openStream(url('/v1/md/stream?instruments=B&kinds=trade,book'));
  t.teardown(s.close);
  t.is(s.res.statusCode, 200);
  await post(url('/v1/md/events'), [{ kind: 'trade', instrument: 'B', price: '2.5', size: 3, tsEvent: 3, producerId: 'z', producerSeq: 2 }]);
  t.like(await s.next(), { kind: 'trade', instrument: 'B', price: '2.5', size: 3 });
});
