/**
 * `npm run bench:bars`: OHLCV bars of a generated day (`QKV_BENCH_MINUTES` minutes, default 10,
 * of 4 instruments) ingested into a 3-node cluster, read from the leader (linearizable):
 * 1. 1-minute bars of the busiest instrument's whole day: `GET /v1/md/bars` (folded by the
 *    addon next to the data) against what a client without it does — every ticks page
 *    (10,000 events each) fetched and folded in JavaScript. Both answers are compared, bar by
 *    bar, before anything is timed. Medians of `QKV_BENCH_ROUNDS` (default 5), alternating.
 * 2. 1-second bars of a 1-minute window at seeded random times of the day: latency p50/p99
 *    (each starts at the newest book checkpoint before its window, found by binary search).
 * 3. The book as of a random time of the day (`?at=`), the same search and a roll-forward.
 * JSON: bench/results/bars.json.
 */
import type { Bar } from '../ts/client/market_reads';
import { generate } from '../ts/market/generator';
import { formatPrice, parsePrice } from '../ts/market/records';
import { seededRandom } from '../test/helpers/random';
import { ingestLines } from './lib/md_day';
import { withLocalCluster } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';

const MINUTES = Number(process.env.QKV_BENCH_MINUTES ?? 10);
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 5);
const INSTRUMENTS = 4;
const RATE = 2000;
const WINDOWS = 40;
const MINUTE_NS = 60_000_000_000n;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as T;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Every bar through the endpoint (following `next`). */
async function serverBars(leader: string, instrument: string, interval: string, from?: bigint, to?: bigint): Promise<Bar[]> {
  const bars: Bar[] = [];
  let next: string | null = from === undefined ? '0' : from.toString();
  while (next !== null) {
    const q = new URLSearchParams({ interval, from: next });
    if (to !== undefined) q.set('to', to.toString());
    const page: { bars: Bar[]; next: string | null } = await getJson(`${leader}/v1/md/bars/${instrument}?${q}`);
    bars.push(...page.bars);
    next = page.next;
  }
  return bars;
}

type Acc = { o: bigint; h: bigint; l: bigint; c: bigint; v: bigint; buy: bigint; sell: bigint; n: number; notional: bigint };

/** What a client does without bars: every ticks page, its trades folded here (prices exact, as bigints). */
async function clientBars(leader: string, instrument: string, intervalNs: bigint): Promise<Bar[]> {
  const acc = new Map<bigint, Acc>();
  let after = '0';
  for (;;) {
    const page: { events: { kind: string; seq: string; tsEvent: string; price?: string; size?: number; side?: string }[]; more: boolean } = await getJson(`${leader}/v1/md/ticks/${instrument}?limit=10000&afterSeq=${after}`);
    for (const e of page.events) {
      if (e.kind !== 'trade') continue;
      const ts = BigInt(e.tsEvent);
      const start = ts - (ts % intervalNs);
      const p = parsePrice(e.price, 'price');
      const size = BigInt(e.size!);
      const b = acc.get(start) ?? { o: p, h: p, l: p, c: p, v: 0n, buy: 0n, sell: 0n, n: 0, notional: 0n };
      acc.set(start, { o: b.o, h: p > b.h ? p : b.h, l: p < b.l ? p : b.l, c: p, v: b.v + size, buy: b.buy + (e.side === 'buy' ? size : 0n), sell: b.sell + (e.side === 'sell' ? size : 0n), n: b.n + 1, notional: b.notional + p * size });
    }
    if (!page.more || page.events.length === 0) break;
    after = page.events[page.events.length - 1].seq;
  }
  return [...acc].map(([start, b]) => ({ start: start.toString(), open: formatPrice(b.o), high: formatPrice(b.h), low: formatPrice(b.l), close: formatPrice(b.c), volume: Number(b.v), buyVolume: Number(b.buy), sellVolume: Number(b.sell), trades: b.n, vwap: b.v === 0n ? null : formatPrice(b.notional / b.v) }));
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await work();
  return { ms: performance.now() - t0, value };
}

async function wholeDay(leader: string, instrument: string, events: number): Promise<Row[]> {
  const server = await serverBars(leader, instrument, '1m');
  const client = await clientBars(leader, instrument, MINUTE_NS);
  if (JSON.stringify(server) !== JSON.stringify(client)) throw new Error('the endpoint and the client fold disagree');
  const ms: { server: number[]; client: number[] } = { server: [], client: [] };
  for (let r = 0; r < ROUNDS; r++) {
    ms.server.push((await timed(() => serverBars(leader, instrument, '1m'))).ms);
    ms.client.push((await timed(() => clientBars(leader, instrument, MINUTE_NS))).ms);
  }
  const row = (workload: string, xs: number[], ratio: number | string): Row => ({ workload, 'median ms': +median(xs).toFixed(1), 'p99 ms': '-', 'events/s': Math.round(events / (median(xs) / 1000)), 'time ×': ratio, detail: `${server.length} bars of ${events} events; rounds ${xs.map((x) => x.toFixed(0)).join(' / ')} ms` });
  return [
    row(`1m bars of ${instrument}'s whole day: GET /v1/md/bars`, ms.server, 1),
    row('... ticks pages folded by the client (before)', ms.client, +(median(ms.client) / median(ms.server)).toFixed(1)),
  ];
}

async function windows(leader: string, instrument: string, t0: bigint, spanNs: bigint): Promise<Row[]> {
  const random = seededRandom(7);
  const at = () => t0 + (BigInt(Math.floor(random() * 1e6)) * (spanNs - MINUTE_NS)) / 1_000_000n;
  const bars: number[] = [];
  const books: number[] = [];
  for (let i = 0; i < WINDOWS; i++) {
    const from = at();
    bars.push((await timed(() => serverBars(leader, instrument, '1s', from, from + MINUTE_NS))).ms);
    const when = at();
    books.push((await timed(() => getJson(`${leader}/v1/md/books/${instrument}?at=${when}`))).ms);
  }
  const row = (workload: string, xs: number[]): Row => ({ workload, 'median ms': +median(xs).toFixed(1), 'p99 ms': +percentile(xs, 99).toFixed(1), 'events/s': '-', 'time ×': '-', detail: `${WINDOWS} random times of the day` });
  return [row(`1s bars of a 1-minute window of ${instrument}`, bars), row(`${instrument}'s book as of a time (?at=)`, books)];
}

async function main(): Promise<void> {
  const lines = [...generate({ instruments: INSTRUMENTS, minutes: MINUTES, seed: 1, eventsPerSecond: RATE })];
  const perInstrument = new Map<string, number>();
  for (const line of lines) {
    const symbol = (JSON.parse(line) as { instrument: string }).instrument;
    perInstrument.set(symbol, (perInstrument.get(symbol) ?? 0) + 1);
  }
  const [instrument, events] = [...perInstrument].sort((a, b) => b[1] - a[1])[0];
  const t0 = BigInt((JSON.parse(lines[0]) as { tsEvent: string }).tsEvent);
  const spanNs = BigInt((JSON.parse(lines[lines.length - 1]) as { tsEvent: string }).tsEvent) - t0;
  const rows = await withLocalCluster('bars', async (leader) => {
    const started = performance.now();
    await ingestLines(leader, lines, 5000);
    console.error(`  ingested ${lines.length} events (${MINUTES} min, ${INSTRUMENTS} instruments) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    lines.length = 0;
    return [...(await wholeDay(leader, instrument, events)), ...(await windows(leader, instrument, t0, spanNs))];
  });
  printTable(`bars (${MINUTES} min of ${INSTRUMENTS} instruments; 3 nodes on 127.0.0.1, reads from the leader)`, rows);
  writeResults('bars', { minutes: MINUTES, instruments: INSTRUMENTS, rounds: ROUNDS, rows });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
