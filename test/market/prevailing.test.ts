/**
 * Ticks with `prevailing=true`: each event with the top of its instrument's book just before it
 * (trades with their prevailing quote, kdb+'s `aj`) — checked against a book built independently
 * from every stored event, across pages, from a venue time, and after a purge (whose base
 * checkpoint carries the book the dropped events built).
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { ReferenceBook } from '../helpers/reference_book';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';

const T0 = 1_700_000_000_000_000_000n;
const COUNT = 16_000;

/** Seeded deltas and trades, a millisecond apart: ES three in four (checkpoints every 5,000 of its events), NQ the rest. */
function events(): string[] {
  const random = seededRandom(9);
  return Array.from({ length: COUNT }, (_, i) => {
    const base = { instrument: random() < 0.75 ? 'ES' : 'NQ', tsEvent: String(T0 + BigInt(i) * 1_000_000n), producerId: 'p', producerSeq: i + 1 };
    if (random() < 0.25) return JSON.stringify({ kind: 'trade', ...base, price: (100 + Math.floor(random() * 4) * 0.25).toFixed(2), size: 1 + Math.floor(random() * 20), side: random() < 0.5 ? 'buy' : 'sell' });
    const side = random() < 0.5 ? 'bid' : 'ask';
    const price = (side === 'bid' ? 100 - Math.floor(random() * 5) * 0.25 : 100.25 + Math.floor(random() * 5) * 0.25).toFixed(2);
    return JSON.stringify({ kind: 'delta', ...base, action: random() < 0.3 ? 'cancel' : 'add', side, price, size: 1 + Math.floor(random() * 200), orders: 1 });
  });
}

type Event = { seq: string; kind: string; tsEvent: string; prevailing?: unknown } & Record<string, unknown>;

test('each event comes with the top of the book before it, across pages, from a time, and after a purge', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const lines = events();
  for (let i = 0; i < lines.length; i += 1000) t.is((await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).join('\n') })).status, 200);
  const pages = async (query: string, max = Infinity): Promise<Event[]> => {
    const out: Event[] = [];
    for (let more = true; more && out.length < max; ) {
      const res = await fetch(url(`/v1/md/ticks/ES?${query}${out.length > 0 ? `&afterSeq=${out.at(-1)!.seq}` : ''}`));
      t.is(res.status, 200);
      const page = (await res.json()) as { events: Event[]; more: boolean };
      out.push(...page.events);
      more = page.more;
    }
    return out;
  };
  // The reference: every stored ES event applied in order, the top read before each.
  const all = await pages('limit=10000');
  const book = new ReferenceBook();
  const before = new Map<string, unknown>();
  for (const e of all) {
    const { bids, asks } = book.levels(1);
    before.set(e.seq, { bestBid: bids[0]?.price ?? null, bidSize: bids[0]?.size ?? null, bestAsk: asks[0]?.price ?? null, askSize: asks[0]?.size ?? null });
    book.apply(e as never);
  }
  const expectOf = (events: Event[]) => events.map((e) => ({ ...e, prevailing: before.get(e.seq) }));

  const trades = await pages('kinds=trade&prevailing=true&limit=997');
  t.true(trades.length > 2500, `${trades.length} trades`);
  t.deepEqual(trades, expectOf(all.filter((e) => e.kind === 'trade')));
  const from = T0 + 9_000_000_000n;
  const late = await pages(`prevailing=true&limit=50&from=${from}`, 1);
  t.deepEqual(late, expectOf(all.filter((e) => BigInt(e.tsEvent) >= from).slice(0, 50)));
  t.like(await (await fetch(url('/v1/md/ticks/ES?prevailing=yes'))).json(), { error: { code: 'invalid_query' } });

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const viaClient = [];
  for await (const e of client.ticks('ES', { kinds: ['trade'], prevailing: true, pageSize: 500 })) if (viaClient.push(e) === 600) break;
  t.deepEqual(viaClient, trades.slice(0, 600));

  // After a purge, a first page starts after the kept base, with the book the dropped events built.
  const purge = (await (await fetch(url(`/v1/md/history?before=${T0 + 12_000_000_000n}`), { method: 'DELETE' })).json()) as { instruments: { instrument: string; fromSeq: string }[] };
  const kept = BigInt(purge.instruments.find((i) => i.instrument === 'ES')!.fromSeq);
  const first = await pages('prevailing=true&limit=100', 1);
  t.deepEqual(first, expectOf(all.filter((e) => BigInt(e.seq) > kept).slice(0, 100)));
});

/** Seeded quotes and trades of one FX pair, a millisecond apart (no deltas: its L2 book stays empty). */
function quotesAndTrades(count: number): string[] {
  const random = seededRandom(21);
  return Array.from({ length: count }, (_, i) => {
    const base = { instrument: 'EURUSD', tsEvent: String(T0 + BigInt(i) * 1_000_000n), producerId: 'fx', producerSeq: i + 1 };
    const mid = 1.08 + Math.floor(random() * 40) / 10_000;
    if (random() < 0.3) return JSON.stringify({ kind: 'trade', ...base, price: mid.toFixed(5), size: 1 + Math.floor(random() * 9), side: 'buy' });
    return JSON.stringify({ kind: 'quote', ...base, bidPrice: (mid - 0.0001).toFixed(5), bidSize: 1 + Math.floor(random() * 50), askPrice: (mid + 0.0001).toFixed(5), askSize: 1 + Math.floor(random() * 50) });
  });
}

test('prevailing=quote: each event with the last quote record before it, across pages and from a time', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const lines = quotesAndTrades(12_000);
  for (let i = 0; i < lines.length; i += 1000) t.is((await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).join('\n') })).status, 200);
  const pages = async (query: string, max = Infinity): Promise<Event[]> => {
    const out: Event[] = [];
    for (let more = true; more && out.length < max; ) {
      const page = (await (await fetch(url(`/v1/md/ticks/EURUSD?${query}${out.length > 0 ? `&afterSeq=${out.at(-1)!.seq}` : ''}`))).json()) as { events: Event[]; more: boolean };
      out.push(...page.events);
      more = page.more;
    }
    return out;
  };
  // The reference: the last quote before each stored event.
  const all = await pages('limit=10000');
  t.is(all.length, 12_000);
  const before = new Map<string, unknown>();
  let last: unknown = { bestBid: null, bidSize: null, bestAsk: null, askSize: null };
  for (const e of all) {
    before.set(e.seq, last);
    if (e.kind === 'quote') last = { bestBid: e.bidPrice, bidSize: e.bidSize, bestAsk: e.askPrice, askSize: e.askSize };
  }
  const expectOf = (events: Event[]) => events.map((e) => ({ ...e, prevailing: before.get(e.seq) }));

  // Trades only, small pages: each later page finds the quote before its start by reading back.
  const trades = await pages('kinds=trade&prevailing=quote&limit=97');
  t.true(trades.length > 3000, `${trades.length} trades`);
  t.deepEqual(trades, expectOf(all.filter((e) => e.kind === 'trade')));
  t.deepEqual(trades[0].prevailing, before.get(trades[0].seq));
  t.not((trades[5].prevailing as { bestBid: unknown }).bestBid, null, 'a quote prevails');
  const from = T0 + 7_000_000_000n;
  t.deepEqual(await pages(`prevailing=quote&limit=50&from=${from}`, 1), expectOf(all.filter((e) => BigInt(e.tsEvent) >= from).slice(0, 50)));
  // The L2 book of a quoted instrument is empty: what prevailing=quote is for.
  const book = await pages('kinds=trade&prevailing=book&limit=10', 1);
  t.deepEqual(book[9].prevailing, { bestBid: null, bidSize: null, bestAsk: null, askSize: null });
  t.like(await (await fetch(url('/v1/md/ticks/EURUSD?prevailing=quotes'))).json(), { error: { code: 'invalid_query' } });

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const viaClient = [];
  for await (const e of client.ticks('EURUSD', { kinds: ['trade'], prevailing: 'quote', pageSize: 500 })) if (viaClient.push(e) === 600) break;
  t.deepEqual(viaClient, trades.slice(0, 600));
});
