/**
 * `npm run bench:md-reads`: the market-data reads a backtest makes in bulk, on a generated day
 * (`QKV_BENCH_MINUTES` minutes, default 5, of `QKV_BENCH_INSTRUMENTS` instruments, default 100,
 * at 4,000 events/s) ingested into a 3-node cluster, each against what a client does without it,
 * in the same run (medians of `QKV_BENCH_ROUNDS`, default 5, alternating):
 * 1. The tops of every instrument's book at one instant: `POST /v1/md/books/top?at=T`,
 *    against one `GET /v1/md/books/{instrument}?at=` per instrument. Both answers are compared
 *    before anything is timed.
 * 2. A ticks page of 10,000 events of the busiest instrument from the middle of its day with
 *    `prevailing=book` (the top of the book before each event) and `prevailing=quote` (the last
 *    quote record before each), against the same page without either: the cost of the join.
 * 3. A stream resumed from seq 0 over every instrument (a catch-up of the whole day, read from a
 *    follower), three times: events/s, and the serving node's resident memory before and at its
 *    peak (RSS counts RocksDB's block cache, which the day's blocks fill, and V8's heap growth;
 *    the stream itself holds a chunk: with `--max-old-space-size=200` three catch-ups of 1.19M
 *    events ran whole, and left 33 MB of heap in use).
 * JSON: bench/results/md_reads.json.
 */
import { execSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../ts/market/generator';
import { ingestLines } from './lib/md_day';
import { findLeader, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, type Row, writeResults } from './lib/report';

const MINUTES = Number(process.env.QKV_BENCH_MINUTES ?? 5);
const INSTRUMENTS = Number(process.env.QKV_BENCH_INSTRUMENTS ?? 100);
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 5);
const RATE = 4000;

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body = (await res.json()) as T;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

type Top = { instrument: string } & Record<string, unknown>;

async function asOfTops(leader: string, names: string[], at: string): Promise<Row[]> {
  const one = () => json<{ books: Top[] }>(`${leader}/v1/md/books/top?at=${at}`, { method: 'POST', body: JSON.stringify({ instruments: names }) });
  const each = async () => {
    const books: Top[] = [];
    for (const n of names) {
      const b = await json<{ bids: { size: number }[]; asks: { size: number }[] } & Record<string, unknown>>(`${leader}/v1/md/books/${n}?depth=1&at=${at}`);
      books.push({ instrument: n, seq: b.seq, tsEvent: b.tsEvent, bestBid: b.bestBid, bidSize: b.bids[0]?.size ?? null, bestAsk: b.bestAsk, askSize: b.asks[0]?.size ?? null, spread: b.spread, mid: b.mid, maybeBad: b.maybeBad });
    }
    return books;
  };
  if (JSON.stringify((await one()).books) !== JSON.stringify(await each())) throw new Error('the as-of tops and the single books disagree');
  const ms: { one: number[]; each: number[] } = { one: [], each: [] };
  for (let r = 0; r < ROUNDS; r++) {
    ms.one.push(await timed(one));
    ms.each.push(await timed(each));
  }
  const row = (workload: string, xs: number[], ratio: number): Row => ({ workload, 'median ms': +median(xs).toFixed(1), 'time ×': ratio, detail: `rounds ${xs.map((x) => x.toFixed(0)).join(' / ')} ms` });
  return [
    row(`tops of ${names.length} books as of one time: POST /v1/md/books/top?at=`, ms.one, 1),
    row(`... one GET /v1/md/books/{i}?at= per instrument (before)`, ms.each, +(median(ms.each) / median(ms.one)).toFixed(2)),
  ];
}

async function prevailingPage(leader: string, instrument: string): Promise<Row[]> {
  // A page from the middle of the day: the book rolls forward from a checkpoint, the quote is searched for backwards.
  const first = await json<{ events: { seq: string }[] }>(`${leader}/v1/md/ticks/${instrument}?limit=10000`);
  const after = first.events[Math.floor(first.events.length / 2)].seq;
  const page = (prevailing: string) => json<{ events: unknown[] }>(`${leader}/v1/md/ticks/${instrument}?limit=10000&afterSeq=${after}${prevailing ? `&prevailing=${prevailing}` : ''}`);
  const ms: { plain: number[]; book: number[]; quote: number[] } = { plain: [], book: [], quote: [] };
  for (let r = 0; r < ROUNDS; r++) {
    ms.plain.push(await timed(() => page('')));
    ms.book.push(await timed(() => page('book')));
    ms.quote.push(await timed(() => page('quote')));
  }
  const events = (await page('book')).events.length;
  const row = (workload: string, xs: number[], ratio: number): Row => ({ workload, 'median ms': +median(xs).toFixed(1), 'time ×': ratio, detail: `${events} events after seq ${after}; rounds ${xs.map((x) => x.toFixed(0)).join(' / ')} ms` });
  const ratio = (xs: number[]) => +(median(xs) / median(ms.plain)).toFixed(2);
  return [
    row(`a ticks page of ${instrument}`, ms.plain, 1),
    row('... with prevailing=book (the L2 top before each event)', ms.book, ratio(ms.book)),
    row('... with prevailing=quote (the last quote before each event)', ms.quote, ratio(ms.quote)),
  ];
}

/** Reads a stream until `events` lines came; the serving process's RSS is sampled meanwhile. */
function catchUp(url: string, events: number, pid: number): Promise<{ ms: number; rssBeforeMiB: number; rssPeakMiB: number }> {
  const rss = () => Math.round(Number(execSync(`ps -o rss= -p ${pid}`).toString().trim()) / 1024);
  const rssBeforeMiB = rss();
  let rssPeakMiB = rssBeforeMiB;
  const sampler = setInterval(() => (rssPeakMiB = Math.max(rssPeakMiB, rss())), 200);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let lines = 0;
    const req = http.get(url, (res) => {
      res.on('data', (chunk: Buffer) => {
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
        if (lines < events) return;
        clearInterval(sampler);
        req.destroy();
        resolve({ ms: performance.now() - t0, rssBeforeMiB, rssPeakMiB });
      });
      res.on('end', () => reject(new Error(`the stream ended after ${lines} of ${events} lines`)));
    });
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const lines = [...generate({ instruments: INSTRUMENTS, minutes: MINUTES, seed: 1, eventsPerSecond: RATE })];
  const total = lines.length;
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-md-reads-'));
  const cluster = await startLocalCluster(dir);
  try {
    const leader = await findLeader(cluster.urls);
    await ingestLines(leader, lines, 5000);
    lines.length = 0;
    const listed = await json<{ instruments: { instrument: string; firstTsEvent: string; lastTsEvent: string; lastSeq: string }[] }>(`${leader}/v1/md/instruments?limit=1000`);
    const names = listed.instruments.map((i) => i.instrument);
    const first = listed.instruments[0];
    const at = ((BigInt(first.firstTsEvent) + BigInt(first.lastTsEvent)) / 2n).toString();
    const rows = [...(await asOfTops(leader, names, at)), ...(await prevailingPage(leader, names[0]))];
    const follower = cluster.urls.find((u) => u !== leader)!;
    const pid = Number(/pid=(\d+)/.exec(execSync(`ss -ltnpH 'sport = :${new URL(follower).port}'`).toString())![1]);
    const runs = [];
    for (let r = 0; r < 3; r++) runs.push(await catchUp(`${follower}/v1/md/stream?instruments=${names.join(',')}&kinds=delta,trade,quote&fromSeq=0`, total, pid));
    const best = runs.map((r) => r.ms);
    rows.push({ workload: `a stream from seq 0 over ${names.length} instruments (catch-up of the day, a follower)`, 'median ms': +median(best).toFixed(0), 'time ×': '-', detail: `${total} events, ${Math.round(total / (median(best) / 1000))} events/s; RSS before/peak per run ${runs.map((r) => `${r.rssBeforeMiB}/${r.rssPeakMiB}`).join(', ')} MiB` });
    printTable(`md reads (${MINUTES} min of ${INSTRUMENTS} instruments, ${total} events; 3 nodes on 127.0.0.1)`, rows);
    writeResults('md_reads', { minutes: MINUTES, instruments: INSTRUMENTS, events: total, rounds: ROUNDS, rows });
  } finally {
    await stopAll(cluster.procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
