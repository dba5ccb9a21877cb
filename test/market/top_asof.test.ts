/**
 * `POST /v1/md/books/top?at=|seq=`: every named book's top as of then, each equal to
 * what its own `GET /v1/md/books/{instrument}?at=` rebuilds; instruments without events by then
 * are missing; a time whose history a purge dropped is 410 `compacted`.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';

const T0 = 1_700_000_000_000_000_000n;
const SYMBOLS = Array.from({ length: 12 }, (_, i) => `S${i}`);
const COUNT = 40_000;

/**
 * Seeded deltas over 12 instruments, a millisecond apart: half of them S0's (so it has book
 * checkpoints, one per 5,000 of its events, for a purge to cut at); S11 starts at the middle of the day.
 */
function events(): string[] {
  const random = seededRandom(5);
  return Array.from({ length: COUNT }, (_, i) => {
    const instrument = random() < 0.5 ? 'S0' : SYMBOLS[1 + Math.floor(random() * (i < COUNT / 2 ? 10 : 11))];
    const side = random() < 0.5 ? 'bid' : 'ask';
    const price = (side === 'bid' ? 100 - Math.floor(random() * 6) * 0.5 : 100.5 + Math.floor(random() * 6) * 0.5).toFixed(1);
    return JSON.stringify({ kind: 'delta', instrument, action: random() < 0.8 ? 'add' : 'cancel', side, price, size: 1 + Math.floor(random() * 90), orders: 1, tsEvent: String(T0 + BigInt(i) * 1_000_000n), producerId: 'p', producerSeq: i + 1 });
  });
}

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
};
/** The tops of `instruments` as of `query` (at=T or seq=S). */
const topsAsOf = async (url: (path: string) => string, instruments: string[], query: Record<string, string>) => {
  const res = await fetch(url(`/v1/md/books/top?${new URLSearchParams(query)}`), { method: 'POST', body: JSON.stringify({ instruments }) });
  return { status: res.status, json: (await res.json()) as any };
};

test('the tops of many books as of a time or a seq are each book as of then', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const lines = events();
  for (let i = 0; i < lines.length; i += 2000) t.is((await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 2000).join('\n') })).status, 200);
  const asked = [...SYMBOLS, 'NOPE'];
  for (const fraction of [0.1, 0.37, 0.63, 0.93]) {
    const at = (T0 + BigInt(Math.floor(COUNT * fraction)) * 1_000_000n).toString();
    const answer = await topsAsOf(url, asked, { at });
    t.is(answer.status, 200);
    const expected: unknown[] = [];
    const missing: string[] = [];
    for (const instrument of asked) {
      const res = await fetch(url(`/v1/md/books/${instrument}?depth=1&at=${at}`));
      if (res.status === 404) {
        missing.push(instrument);
        continue;
      }
      const b = (await res.json()) as any;
      expected.push({ instrument, seq: b.seq, tsEvent: b.tsEvent, bestBid: b.bestBid, bidSize: b.bids[0]?.size ?? null, bestAsk: b.bestAsk, askSize: b.asks[0]?.size ?? null, spread: b.spread, mid: b.mid, maybeBad: b.maybeBad });
    }
    t.deepEqual(answer.json, { books: expected, missing }, `as of ${fraction} of the day`);
    t.is(missing.includes('S11'), fraction < 0.5, 'S11 has no events before the middle of the day');
    t.true(expected.every((b) => BigInt((b as { tsEvent: string }).tsEvent) <= BigInt(at)));
  }
  // By seq: the same as each book's own ?seq= read.
  const seq = ((await (await fetch(url(`/v1/md/ticks/S3?limit=1&from=${T0 + 20_000_000_000n}`))).json()) as { events: { seq: string }[] }).events[0].seq;
  const bySeq = await topsAsOf(url, ['S3', 'S4'], { seq });
  const s4 = (await (await fetch(url(`/v1/md/books/S4?depth=1&seq=${seq}`))).json()) as { seq: string };
  t.like(bySeq.json.books, [{ instrument: 'S3', seq }, { instrument: 'S4', seq: s4.seq }]);
  t.like((await topsAsOf(url, ['S3'], { at: '1', seq: '1' })).json.error, { code: 'invalid_query' });
  t.like((await topsAsOf(url, ['S3'], { at: 'yesterday' })).json.error, { code: 'invalid_time' });
  t.like((await post(url('/v1/md/books/top'), { instruments: ['S3'], at: '1' })).json.error, { code: 'invalid_body' }, 'the time goes in the query');

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const viaClient = await client.top(['S1', 'S11'], { at: T0 + 1_000_000n * 100n });
  t.deepEqual(viaClient.missing, ['S11']);
  t.like(viaClient.books, [{ instrument: 'S1' }]);

  // A time whose history was purged (S0's) cannot be answered.
  const purge = await fetch(url(`/v1/md/history?before=${T0 + 30_000_000_000n}`), { method: 'DELETE' });
  t.is(purge.status, 200);
  const early = await topsAsOf(url, SYMBOLS, { at: (T0 + 1_000_000n).toString() });
  t.is(early.status, 410);
  t.is(early.json.error.code, 'compacted');
});
