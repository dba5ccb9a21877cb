/**
 * `npm run bench:market`: market-data ingestion and books.
 *
 * 1. Book deltas applied per second in the addon alone (`Books.applyBatch`, 1M deltas over 50
 *    instruments, batches of 10,000), median of 3 rounds.
 * 2. A 3-node cluster (compiled CLI, 127.0.0.1): batches of `BATCH` events (NDJSON, then
 *    binary) from `PRODUCERS` concurrent producers to the leader, each acknowledged after
 *    majority fsync and apply, for `SECONDS`; events/s and per-batch ack latency. Then the
 *    same paced at 100K events/s (open loop: the target's latency at the target's rate), small
 *    batches, and one event per request. Bodies are made before the clock starts.
 * 3. During another ingest run on that cluster: `STREAMS` market streams on the followers (2
 *    instruments each): events delivered per second and the delay from the node receiving an
 *    event to its delivery.
 * 4. Depth-10 book reads, `READS_PER_S` open loop from a process of their own (measured from
 *    the load generator's process, its busy event loop added tens of milliseconds to every
 *    read), during ingest paced at 100K events/s (the load the read target is stated under):
 *    linearizable with a ReadIndex round each, linearizable from the leader's lease
 *    (`--read-lease on`), and stale (the floor); then ReadIndex reads with no ingest (the host's
 *    floor). Each on a fresh cluster, `READ_ROUNDS` rounds in turn; medians of p50 and p99 over
 *    the rounds, and how late the readers' own process was to send (p99).
 *
 * JSON to bench/results/market.json, and a printed table.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Books } from '../ts/native_market';
import { parseNdjson, toBinary } from '../ts/market/batch';
import { OFFSET, RECORD_BYTES } from '../ts/market/records';
import { HttpPoster } from './lib/http_post';
import { benchNodeArgs, findLeader, freePorts, launch, runJsonScript, stopAll } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';
import { NODE_V8_FLAGS } from '../ts/cli/node_flags';

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');
const SECONDS = Number(process.env.QKV_BENCH_SECONDS ?? 8);
const BATCH = 1000;
const PRODUCERS = Number(process.env.QKV_BENCH_PRODUCERS ?? 8);
const READERS = 4;
/** Book reads per second, open loop (latency from when each read was due; closed-loop readers measured their own CPU demand). */
const READS_PER_S = 200;
/** Fresh clusters per read mode (medians over them). */
const READ_ROUNDS = Number(process.env.QKV_BENCH_READ_ROUNDS ?? 3);
const STREAMS = Number(process.env.QKV_BENCH_STREAMS ?? 20);
const INSTRUMENTS = 50;
/** The issue's ingest target: acknowledged within 20 ms (p99) at this rate. */
const PACED_EVENTS_PER_S = 100_000;

/** Deterministic pseudo-random numbers (xorshift32). */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** `count` packed delta records: adds, modifies and cancels near a mid of 100 per instrument. */
function packedDeltas(count: number, seed: number): Buffer {
  const random = xorshift(seed);
  const out = Buffer.alloc(count * RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    const r = out.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES);
    const side = random() < 0.5 ? 1 : 2;
    const ticks = Math.floor(random() * 50);
    const action = random() < 0.7 ? 1 : random() < 0.5 ? 2 : 3;
    r[OFFSET.kind] = 1;
    r[OFFSET.action] = action;
    r[OFFSET.side] = side;
    r[OFFSET.flags] = 128;
    r.writeUInt32LE(1 + Math.floor(random() * INSTRUMENTS), OFFSET.instrument);
    r.writeBigInt64LE(BigInt(side === 1 ? 100_000_000_000 - ticks * 10_000_000 : 100_010_000_000 + ticks * 10_000_000), OFFSET.price);
    r.writeBigUInt64LE(action === 3 ? 0n : BigInt(1 + Math.floor(random() * 1000)), OFFSET.size);
    r.writeBigUInt64LE(BigInt(i + 1), OFFSET.seq);
  }
  return out;
}

function benchAddon(): Row {
  const records = packedDeltas(1_000_000, 7);
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    const books = new Books(10_000);
    const started = process.hrtime.bigint();
    for (let at = 0; at < records.length; at += 10_000 * RECORD_BYTES) books.applyBatch(records.subarray(at, at + 10_000 * RECORD_BYTES));
    rates.push(1_000_000 / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return { workload: 'book deltas applied (addon, 1 core)', 'ops/s': Math.round(median(rates)), 'p50 ms': '-', 'p99 ms': '-', rounds: rates.map((r) => Math.round(r)).join(' / ') };
}

/** NDJSON lines for one batch of one producer. */
function ndjsonBatch(producer: number, firstSeq: number, size: number, random: () => number): string {
  const lines: string[] = [];
  for (let i = 0; i < size; i++) {
    const side = random() < 0.5 ? 'bid' : 'ask';
    const ticks = Math.floor(random() * 50);
    const price = side === 'bid' ? (100 - ticks * 0.01).toFixed(2) : (100.01 + ticks * 0.01).toFixed(2);
    const seq = firstSeq + i;
    lines.push(`{"kind":"delta","instrument":"S${1 + Math.floor(random() * INSTRUMENTS)}","action":"add","side":"${side}","price":"${price}","size":${1 + Math.floor(random() * 1000)},"tsEvent":${1_700_000_000_000_000_000n + BigInt(seq)},"producerId":"p${producer}","producerSeq":${seq}}`);
  }
  return lines.join('\n');
}

interface IngestRun {
  events: number;
  latenciesMs: number[];
  seconds: number;
  /** Requests answered 503/504 or whose connection failed (not acknowledged; the producer moves on). */
  failed: number;
}

interface Body {
  data: Buffer;
  type: string;
}

/**
 * Request bodies made before the clock starts (so generating them does not compete with the
 * nodes for the 2 cores): per producer, consecutive batches of `batch` events with increasing
 * producerSeqs, as NDJSON or binary.
 */
function makeBodies(producers: number, batch: number, batches: number, binary: boolean, idBase: number): Body[][] {
  return Array.from({ length: producers }, (_, p) => {
    const random = xorshift(idBase + p + 1);
    return Array.from({ length: batches }, (_, b) => {
      const text = ndjsonBatch(idBase + p, 1 + b * batch, batch, random);
      return binary ? { data: toBinary(parseNdjson(Buffer.from(text), 0n)), type: 'application/octet-stream' } : { data: Buffer.from(text), type: 'application/x-ndjson' };
    });
  });
}

/**
 * Each producer sends its bodies in order to `url` until `seconds` pass or they run out. With
 * `eventsPerSecond`, paced (open loop): producer p's batch k is due at `(k + p / producers)`
 * intervals, sent when due or when its previous batch is answered (a producer's batches stay in
 * order, as exactly-once needs), and its latency counts from when it was due — a backlog shows.
 */
async function ingest(url: string, bodies: Body[][], seconds: number, eventsPerSecond = 0): Promise<IngestRun> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const latenciesMs: number[] = [];
  let events = 0;
  let failed = 0;
  const poster = new HttpPoster();
  await Promise.all(
    bodies.map(async (list, p) => {
      const intervalMs = eventsPerSecond > 0 ? ((bodies.length * BATCH) / eventsPerSecond) * 1000 : 0;
      for (const [k, body] of list.entries()) {
        const due = started + (k + p / bodies.length) * intervalMs;
        if (performance.now() >= deadline || due >= deadline) return;
        if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
        const sent = intervalMs > 0 ? due : performance.now();
        const res = await poster.post(`${url}/v1/md/events`, body.data, body.type).catch((err: Error) => {
          console.error(`  a request failed: ${err.message}`);
          return undefined;
        });
        if (!res) {
          failed++;
          continue;
        }
        if (res.status === 503 || res.status === 504) {
          failed++;
          continue;
        }
        if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.json)}`);
        latenciesMs.push(performance.now() - sent);
        events += (res.json as { applied?: number }).applied ?? 0;
      }
    }),
  );
  poster.close();
  return { events, latenciesMs, seconds: (performance.now() - started) / 1000, failed };
}

/** What the book readers measured: each read's latency from its due time, and how late the readers' own process was to send it. */
interface BookReads {
  latenciesMs: number[];
  sendLateMs: number[];
}

/** Depth-10 book reads (linearizable, or stale) for `seconds`, from a process of their own. */
function readBooks(url: string, readers: number, seconds: number, consistency: 'linearizable' | 'stale', readsPerSecond: number): Promise<BookReads> {
  return runJsonScript<BookReads>('book_readers.ts', [url, String(seconds * 1000), String(readers), String(INSTRUMENTS), consistency, String(readsPerSecond)]);
}

/**
 * `count` stream subscribers (round-robin over `urls`) to the first instruments until `until`
 * resolves: events delivered, and the delay from the node receiving each event (its tsRecv)
 * to its delivery here.
 */
async function subscribe(urls: string[], count: number, until: Promise<unknown>): Promise<{ events: number; delaysMs: number[] }> {
  const delaysMs: number[] = [];
  let events = 0;
  const streams = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${urls[i % urls.length]}/v1/md/stream?instruments=S${1 + (i % 5)},S${6 + (i % 5)}&kinds=delta`);
      if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${await res.text()}`);
      const reader = res.body!.getReader();
      let tail = '';
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done || !value) return;
          const now = BigInt(Date.now()) * 1_000_000n;
          const parts = (tail + Buffer.from(value).toString('utf8')).split('\n');
          tail = parts.pop()!;
          for (const l of parts) {
            const m = /"tsRecv":"(\d+)"/.exec(l);
            if (!m) continue;
            events++;
            if (events % 10 === 0) delaysMs.push(Number(now - BigInt(m[1])) / 1e6);
          }
        }
      })();
      return reader;
    }),
  );
  await until;
  for (const r of streams) await r.cancel().catch(() => undefined);
  return { events, delaysMs };
}

const row = (workload: string, run: IngestRun): Row => logged({
  workload,
  'ops/s': Math.round(run.events / run.seconds),
  'p50 ms': percentile(run.latenciesMs, 50),
  'p99 ms': percentile(run.latenciesMs, 99),
  rounds: `${run.latenciesMs.length} requests${run.failed ? `, ${run.failed} failed (503/504 or connection)` : ''}`,
});

/** Prints a row as soon as it is measured (a later failure keeps what was measured). */
function logged(r: Row): Row {
  console.error(`  ${r.workload}: ${r['ops/s']} ops/s, p50 ${r['p50 ms']} ms, p99 ${r['p99 ms']} ms`);
  return r;
}

interface Cluster {
  urls: string[];
  leader: string;
  stop: () => Promise<void>;
}

/** A 3-node cluster of the compiled CLI on 127.0.0.1, with `extraArgs` for every node. */
async function startCluster(extraArgs: string[] = []): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-market-'));
  const ports = await freePorts(6);
  const cluster = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const procs = await Promise.all(
    [1, 2, 3].map((id) => launch(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', '--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', cluster, '--snapshot-entries', '100000', ...extraArgs, ...benchNodeArgs()], /"event":"ready"/, (line) => {
      // A node that stops during a benchmark is a finding, not noise: show why.
      if (/"event":"(fatal|stopping|removed)"|Error/.test(line)) console.error(`  n${id}: ${line}`);
    })),
  );
  const stop = async (): Promise<void> => {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const urls = ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`);
    return { urls, leader: await findLeader(urls), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function benchCluster(): Promise<Row[]> {
  const { urls, leader, stop } = await startCluster();
  try {
    const rows: Row[] = [];
    const batches = Math.ceil((150_000 * SECONDS) / (PRODUCERS * BATCH)) + 2;
    rows.push(row(`ingest NDJSON, ${PRODUCERS} producers × ${BATCH}/batch`, await ingest(leader, makeBodies(PRODUCERS, BATCH, batches, false, 0), SECONDS)));
    rows.push(row(`ingest binary, ${PRODUCERS} producers × ${BATCH}/batch`, await ingest(leader, makeBodies(PRODUCERS, BATCH, batches, true, 100), SECONDS)));
    rows.push(row(`ingest binary paced at ${PACED_EVENTS_PER_S / 1000}K events/s, ${PRODUCERS} producers × ${BATCH}/batch (open loop; ack from when due)`, await ingest(leader, makeBodies(PRODUCERS, BATCH, batches, true, 120), SECONDS, PACED_EVENTS_PER_S)));
    rows.push(row('ingest binary, 2 producers × 256/batch (latency)', await ingest(leader, makeBodies(2, 256, Math.ceil((60_000 * SECONDS) / 512) + 2, true, 150), SECONDS)));
    rows.push(row('ingest NDJSON, 1 event per request, 16 producers', await ingest(leader, makeBodies(16, 1, 2000, false, 200), Math.min(SECONDS, 5))));
    const streamed = ingest(leader, makeBodies(PRODUCERS / 2, BATCH, batches, true, 400), SECONDS);
    const followers = urls.filter((u) => u !== leader);
    const delivered = await subscribe(followers, STREAMS, streamed);
    rows.push(row(`ingest binary, ${PRODUCERS / 2} producers, during streams`, await streamed));
    rows.push(logged({ workload: `${STREAMS} streams (2 instruments each) on followers: events delivered, ingest-to-delivery`, 'ops/s': Math.round(delivered.events / SECONDS), 'p50 ms': percentile(delivered.delaysMs, 50), 'p99 ms': percentile(delivered.delaysMs, 99), rounds: `${delivered.events} events` }));
    return rows;
  } finally {
    await stop();
  }
}

/**
 * Book reads (`consistency`) on `leader` during one ingest run paced at the target rate — or,
 * with `idle`, after the books were filled and with nothing else running (this host's floor).
 */
async function bookReadsRun(leader: string, consistency: 'linearizable' | 'stale', idBase: number, idle: boolean): Promise<BookReads> {
  if (idle) {
    await ingest(leader, makeBodies(PRODUCERS, BATCH, 2, true, idBase), SECONDS);
    return readBooks(leader, READERS, SECONDS, consistency, READS_PER_S);
  }
  const batches = Math.ceil((PACED_EVENTS_PER_S * SECONDS) / (PRODUCERS * BATCH)) + 2;
  const load = ingest(leader, makeBodies(PRODUCERS, BATCH, batches, true, idBase), SECONDS, PACED_EVENTS_PER_S);
  const reads = await readBooks(leader, READERS, SECONDS, consistency, READS_PER_S);
  const run = await load;
  if (run.events < PACED_EVENTS_PER_S * SECONDS * 0.9) console.error(`  the ingest under the reads fell behind: ${run.events} events in ${SECONDS} s`);
  return reads;
}

/**
 * Depth-10 book reads under ingest paced at the target rate (the read target's setting; closed-
 * loop ingest saturates the cores the reads share): linearizable through a ReadIndex round
 * each, linearizable from the leader's lease (`--read-lease on`), and stale (the floor: no
 * round, only the busy leader); then the first with no ingest at all (this host's floor). Each on
 * a fresh cluster (a cluster that already holds millions of events flushes and compacts under
 * the reads), `READ_ROUNDS` rounds in turn, so the modes share the machine's drift; medians over
 * the rounds. Each row also gives the readers' own lateness to send (p99): their process's
 * wake-ups, which every latency from a due time includes.
 */
async function benchReads(): Promise<Row[]> {
  const modes = [
    { name: 'linearizable, ReadIndex round each', args: [] as string[], consistency: 'linearizable' as const, idle: false },
    { name: 'linearizable, --read-lease on', args: ['--read-lease', 'on'], consistency: 'linearizable' as const, idle: false },
    { name: 'stale (leader)', args: [] as string[], consistency: 'stale' as const, idle: false },
    { name: 'linearizable, ReadIndex round each', args: [] as string[], consistency: 'linearizable' as const, idle: true },
  ];
  const runs = modes.map(() => [] as BookReads[]);
  for (let round = 0; round < READ_ROUNDS; round++) {
    for (const [i, mode] of modes.entries()) {
      const cluster = await startCluster(mode.args);
      try {
        runs[i].push(await bookReadsRun(cluster.leader, mode.consistency, 600 + 10 * (round * modes.length + i), mode.idle));
      } finally {
        await cluster.stop();
      }
      const last = runs[i][runs[i].length - 1];
      console.error(`  book reads, ${mode.name}${mode.idle ? ', no ingest' : ''}, round ${round + 1}: p50 ${percentile(last.latenciesMs, 50)} ms, p99 ${percentile(last.latenciesMs, 99)} ms; readers late to send p99 ${percentile(last.sendLateMs, 99)} ms`);
    }
  }
  return modes.map((mode, i) => ({
    workload: `book depth 10, ${mode.name}, ${READS_PER_S} reads/s open loop, ${mode.idle ? 'no ingest (the host\'s floor)' : `during ingest paced at ${PACED_EVENTS_PER_S / 1000}K events/s`}`,
    'ops/s': READS_PER_S,
    'p50 ms': median(runs[i].map((r) => percentile(r.latenciesMs, 50))),
    'p99 ms': median(runs[i].map((r) => percentile(r.latenciesMs, 99))),
    rounds: `${runs[i].length} clusters; p99 ${runs[i].map((r) => percentile(r.latenciesMs, 99).toFixed(2)).join(' / ')}; readers late to send p99 ${runs[i].map((r) => percentile(r.sendLateMs, 99).toFixed(2)).join(' / ')}`,
  }));
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  const rows = [benchAddon(), ...(await benchCluster()), ...(await benchReads())];
  printTable('market data (3 nodes on 127.0.0.1 unless noted)', rows);
  writeResults('market', { seconds: SECONDS, batch: BATCH, producers: PRODUCERS, readers: READERS, instruments: INSTRUMENTS, rows });
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
