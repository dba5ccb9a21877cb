/**
 * Venue-time ranges of stored data. `GET /v1/md/bars/{instrument}`: OHLCV bars of the stored
 * trades equal a fold computed here from the input, for ranges starting anywhere (across book
 * checkpoints), in pages that join up to the whole. `GET /v1/md/ticks/{instrument}?from&to&kinds`:
 * the pages hold exactly the input's events in the range, of those kinds. Bad requests are
 * refused with their codes.
 */
import test from 'ava';
import { formatPrice, parsePrice } from '../../ts/market/records';
import { CHECKPOINT_EVERY_EVENTS } from '../../ts/market/state';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';

const T0 = 1_700_000_000_000_000_000n;
const SEC = 1_000_000_000n;

interface Trade {
  instrument: string;
  tsEvent: bigint;
  price: string;
  size: number;
  side: 'buy' | 'sell' | 'none';
}

/** Seeded trades, quotes and deltas of AAPL and MSFT, venue times rising by up to 0.3 s. */
function events(count: number): { lines: Record<string, unknown>[]; trades: Trade[] } {
  const random = seededRandom(5);
  const lines: Record<string, unknown>[] = [];
  const trades: Trade[] = [];
  let ts = T0 + 7n * SEC; // not on a bar boundary
  for (let i = 0; i < count; i++) {
    ts += BigInt(Math.floor(random() * 300_000_000));
    const instrument = random() < 0.7 ? 'AAPL' : 'MSFT';
    const base = { instrument, tsEvent: ts.toString(), producerId: 'feed', producerSeq: i + 1 };
    const price = (100 + Math.floor(random() * 400) / 100).toFixed(2);
    const r = random();
    if (r < 0.4) {
      const trade: Trade = { instrument, tsEvent: ts, price, size: 1 + Math.floor(random() * 900), side: (['buy', 'sell', 'none'] as const)[Math.floor(random() * 3)] };
      trades.push(trade);
      lines.push({ kind: 'trade', ...base, price, size: trade.size, side: trade.side });
    } else if (r < 0.5) lines.push({ kind: 'quote', ...base, bidPrice: price, bidSize: 5, askPrice: (Number(price) + 0.01).toFixed(2), askSize: 7 });
    else lines.push({ kind: 'delta', ...base, action: 'add', side: random() < 0.5 ? 'bid' : 'ask', price, size: 10, orders: 1 });
  }
  return { lines, trades };
}

/** The bars, folded here: trades in [from, to) grouped by `start = ts - ts % interval`. */
function expectedBars(trades: Trade[], instrument: string, intervalNs: bigint, from: bigint, to: bigint): object[] {
  const bars = new Map<bigint, { o: bigint; h: bigint; l: bigint; c: bigint; v: bigint; buy: bigint; sell: bigint; n: number; notional: bigint }>();
  for (const tr of trades) {
    if (tr.instrument !== instrument || tr.tsEvent < from || tr.tsEvent >= to) continue;
    const start = tr.tsEvent - (tr.tsEvent % intervalNs);
    const p = parsePrice(tr.price, 'price');
    const size = BigInt(tr.size);
    const b = bars.get(start) ?? { o: p, h: p, l: p, c: p, v: 0n, buy: 0n, sell: 0n, n: 0, notional: 0n };
    bars.set(start, { o: b.o, h: p > b.h ? p : b.h, l: p < b.l ? p : b.l, c: p, v: b.v + size, buy: b.buy + (tr.side === 'buy' ? size : 0n), sell: b.sell + (tr.side === 'sell' ? size : 0n), n: b.n + 1, notional: b.notional + p * size });
  }
  return [...bars].map(([start, b]) => ({ start: start.toString(), open: formatPrice(b.o), high: formatPrice(b.h), low: formatPrice(b.l), close: formatPrice(b.c), volume: Number(b.v), buyVolume: Number(b.buy), sellVolume: Number(b.sell), trades: b.n, vwap: formatPrice(b.notional / b.v) }));
}

test('bars equal a fold of the trades, from anywhere in the data, in pages that join up', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const { lines, trades } = events(3 * CHECKPOINT_EVERY_EVENTS);
  for (let i = 0; i < lines.length; i += 1000) {
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).map((l) => JSON.stringify(l)).join('\n') });
    t.is(res.status, 200);
  }
  const get = async (path: string) => (await fetch(url(path))).json() as Promise<any>;
  const all = await get('/v1/md/bars/AAPL?interval=1m');
  t.deepEqual(all.bars, expectedBars(trades, 'AAPL', 60n * SEC, 0n, 2n ** 64n), 'the whole of it');
  t.like(all, { instrument: 'AAPL', interval: '1m', intervalNs: '60000000000', from: '0', to: null, more: false, next: null });
  t.true(all.bars.length > 20);
  const last = trades.at(-1)!.tsEvent;
  // Ranges that start and end anywhere, late ones past several checkpoints of AAPL's.
  for (const [from, to, interval, intervalNs] of [
    [T0 + 95n * SEC + 3n, T0 + 700n * SEC, '10s', 10n * SEC],
    [last - 200n * SEC, last, '250ms', 250_000_000n],
    [last - 1n, last + 1n, '1h', 3600n * SEC],
    [T0, T0 + 5n * SEC, '1s', SEC], // before the first trade: no bars
  ] as const) {
    const got = await get(`/v1/md/bars/AAPL?interval=${interval}&from=${from}&to=${to}`);
    t.deepEqual(got.bars, expectedBars(trades, 'AAPL', intervalNs, from, to), `${interval} bars in [${from}, ${to})`);
    t.is(got.to, to.toString());
  }
  // Pages of 7: each `next` is the following page's `from`; together they are the whole.
  const paged: object[] = [];
  let from = '0';
  for (let pages = 0; ; pages++) {
    const page = await get(`/v1/md/bars/MSFT?interval=30s&limit=7&from=${from}`);
    paged.push(...page.bars);
    t.true(page.bars.length <= 7);
    if (!page.more) break;
    t.is(page.bars.length, 7);
    from = page.next;
    t.true(pages < 1000);
  }
  t.deepEqual(paged, expectedBars(trades, 'MSFT', 30n * SEC, 0n, 2n ** 64n));
  // Bars of the quote mid: OHLC of (bid + ask) / 2 (rounded down to 1e-9) and the quotes' count.
  const mids = new Map<bigint, bigint[]>();
  for (const l of lines) {
    if (l.kind !== 'quote' || l.instrument !== 'MSFT') continue;
    const ts = BigInt(l.tsEvent as string);
    const start = ts - (ts % (60n * SEC));
    mids.set(start, [...(mids.get(start) ?? []), (parsePrice(l.bidPrice, 'bid') + parsePrice(l.askPrice, 'ask')) / 2n]);
  }
  const midBars = [...mids].map(([start, m]) => ({ start: start.toString(), open: formatPrice(m[0]), high: formatPrice(m.reduce((a, b) => (b > a ? b : a))), low: formatPrice(m.reduce((a, b) => (b < a ? b : a))), close: formatPrice(m.at(-1)!), quotes: m.length }));
  t.deepEqual((await get('/v1/md/bars/MSFT?interval=1m&source=mid')).bars, midBars);
  t.is((await fetch(url('/v1/md/bars/MSFT?interval=1m&source=book'))).status, 400);
  // Several instruments in one read: each equals its own fold, with its own more/next.
  const post = async (body: unknown) => (await fetch(url('/v1/md/bars'), { method: 'POST', body: JSON.stringify(body) })).json() as Promise<any>;
  const [from2, to2] = [T0 + 95n * SEC, T0 + 900n * SEC];
  const many = await post({ instruments: ['MSFT', 'AAPL'], interval: '10s', from: from2.toString(), to: to2.toString() });
  t.like(many, { interval: '10s', intervalNs: '10000000000', from: from2.toString(), to: to2.toString() });
  t.deepEqual(many.instruments.map((i: { instrument: string }) => i.instrument), ['MSFT', 'AAPL']);
  for (const one of many.instruments) {
    t.deepEqual(one.bars, expectedBars(trades, one.instrument, 10n * SEC, from2, to2), `${one.instrument} in a read of two`);
    t.like(one, { more: false, next: null });
  }
  const capped = await post({ instruments: ['AAPL', 'MSFT'], interval: '10s', limit: 3, source: 'trades' });
  for (const one of capped.instruments) {
    t.deepEqual(one.bars, (await get(`/v1/md/bars/${one.instrument}?interval=10s&limit=3`)).bars, 'a page per instrument, as GET gives it');
    t.like(one, { more: true });
  }
  const iso = await get('/v1/md/bars/AAPL?interval=1d&from=2023-11-14T00:00:00Z&consistency=stale');
  t.deepEqual(iso.bars, expectedBars(trades, 'AAPL', 86_400n * SEC, 1_699_920_000_000_000_000n, 2n ** 64n), 'ISO times, daily bars');
});

test('bad bar requests are refused with their codes', async (t) => {
  const { url } = await singleNode(t);
  const { lines } = events(20);
  t.is((await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => JSON.stringify(l)).join('\n') })).status, 200);
  for (const [query, status, code] of [
    ['', 400, 'invalid_query'],
    ['interval=0', 400, 'invalid_time'],
    ['interval=1w', 400, 'invalid_time'],
    ['interval=1m&from=5&to=5', 400, 'invalid_time'],
    ['interval=1m&from=yesterday', 400, 'invalid_time'],
    ['interval=1m&limit=0', 400, 'invalid_limit'],
    ['interval=1m&limit=100001', 400, 'invalid_limit'],
    ['interval=1m&intervall=1s', 400, 'invalid_query'],
    ['interval=1m&consistency=eventual', 400, 'invalid_consistency'],
  ] as const) {
    const res = await fetch(url(`/v1/md/bars/AAPL?${query}`));
    t.is(res.status, status, query);
    t.is(((await res.json()) as { error: { code: string } }).error.code, code, query);
  }
  const unknown = await fetch(url('/v1/md/bars/NOPE?interval=1m'));
  t.is(unknown.status, 404);
  t.is(((await unknown.json()) as { error: { code: string } }).error.code, 'unknown_instrument');
  t.is((await fetch(url('/v1/md/bars/AAPL?interval=1m'), { method: 'POST' })).status, 405);
  for (const [body, status, code] of [
    [{ instruments: [], interval: '1m' }, 400, 'invalid_body'],
    [{ instruments: ['AAPL', 'AAPL'], interval: '1m' }, 400, 'invalid_body'],
    [{ instruments: ['AAPL'] }, 400, 'invalid_query'],
    [{ instruments: ['AAPL'], interval: '1m', limit: 60_000 }, 200, undefined],
    [{ instruments: ['AAPL', 'MSFT'], interval: '1m', limit: 60_000 }, 400, 'invalid_limit'],
    [{ instruments: ['AAPL'], interval: '1m', depth: 3 }, 400, 'invalid_body'],
    [{ instruments: ['AAPL', 'NOPE'], interval: '1m' }, 404, 'unknown_instrument'],
    [{ instruments: Array.from({ length: 101 }, (_, i) => `I${i}`), interval: '1m' }, 400, 'invalid_body'],
  ] as const) {
    const res = await fetch(url('/v1/md/bars'), { method: 'POST', body: JSON.stringify(body) });
    t.is(res.status, status, JSON.stringify(body).slice(0, 80));
    if (code) t.is(((await res.json()) as { error: { code: string } }).error.code, code, JSON.stringify(body).slice(0, 80));
  }
});

test('ticks in a venue-time range, of some kinds, page by page, are exactly the input\'s', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const { lines } = events(3 * CHECKPOINT_EVERY_EVENTS);
  for (let i = 0; i < lines.length; i += 1000) {
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).map((l) => JSON.stringify(l)).join('\n') });
    t.is(res.status, 200);
  }
  const last = BigInt(lines.at(-1)!.tsEvent as string);
  for (const [from, to, kinds] of [
    [T0 + 400n * SEC + 1n, T0 + 900n * SEC, 'trade'],
    [last - 60n * SEC, undefined, 'quote,delta'],
    [undefined, T0 + 100n * SEC, undefined],
    [last - 30n * SEC, last, undefined],
  ] as const) {
    const got: string[] = [];
    let after = '0';
    for (let pages = 0; ; pages++) {
      const q = new URLSearchParams({ limit: '500', afterSeq: after });
      if (from !== undefined) q.set('from', from.toString());
      if (to !== undefined) q.set('to', to.toString());
      if (kinds !== undefined) q.set('kinds', kinds);
      const page = (await (await fetch(url(`/v1/md/ticks/AAPL?${q}`))).json()) as { events: { producerSeq: string; seq: string }[]; more: boolean };
      got.push(...page.events.map((e) => e.producerSeq));
      if (!page.more) break;
      after = page.events.at(-1)!.seq;
      t.true(pages < 100);
    }
    const wanted = lines.filter((l) => l.instrument === 'AAPL' && (from === undefined || BigInt(l.tsEvent as string) >= from) && (to === undefined || BigInt(l.tsEvent as string) < to) && (kinds === undefined || kinds.split(',').includes(l.kind as string)));
    t.deepEqual(got, wanted.map((l) => String(l.producerSeq)), `[${from}, ${to}) ${kinds}`);
    t.true(got.length > 0);
  }
  for (const [query, code] of [['kinds=book', 'invalid_query'], ['kinds=', 'invalid_query'], ['from=10&to=10', 'invalid_time'], ['to=soon', 'invalid_time']]) {
    const res = await fetch(url(`/v1/md/ticks/AAPL?${query}`));
    t.is(res.status, 400, query);
    t.is(((await res.json()) as { error: { code: string } }).error.code, code, query);
  }
});
