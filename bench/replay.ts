/**
 * `npm run bench:replay`: replay of a generated day (`md generate`, `QKV_BENCH_MINUTES` minutes of
 * `INSTRUMENTS` instruments) ingested into a 3-node cluster (compiled CLI, 127.0.0.1), with two
 * replay learners (`--role replay`) joined afterwards.
 *
 * 1. `speed: "max"` from a follower, median of `ROUNDS`: events/s (NDJSON lines, and binary
 *    frames), and depth-10 book snapshots/s (kinds: book, a snapshot after each change).
 * 2. Paced at 10× and 100× over a window of the day, from settled stores (the ingest's and the
 *    learners' compactions done: unsettled, they lifted the host's floor p99 from 0.44 to
 *    2.62 ms), `PACED_ROUNDS` sessions each (`QKV_BENCH_PACED_ROUNDS`; medians, every
 *    session's p99 listed): each event's schedule error (its lateness against a schedule
 *    whose origin is fitted to the most punctual event), p50/p99, and the wall time from the
 *    response's headers to its end against (to − from) / speed. Before them,
 *    this host's wake-up floor: how late an idle process runs after a precise sleep.
 * 3. Seek: a paced (1×) session sought to `SEEKS` random times; the time from the seek request
 *    to the first event at or after the sought time, less that event's own wait on the schedule
 *    (its venue time after the sought time).
 * 4. Ingest (binary, `PRODUCERS` producers) at the leader alone, then while 4 max-speed replay
 *    sessions (a minute of the day each, with books, over and over) run on the learners, read
 *    by a process of their own at nice 0 and, apart, at the learners' nice (as if the backtests
 *    ran on machines of their own); alternated, `ROUNDS` each, each round from settled stores
 *    (no compaction pending on any node), medians and their ratios.
 *
 * JSON to bench/results/replay.json, and a printed table.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OFFSET, RECORD_BYTES } from '../ts/market/records';
import { ReplayCursor } from '../ts/native_market';
import { generate } from '../ts/market/generator';
import { parseNdjson } from '../ts/market/batch';
import { ingestLines } from './lib/md_day';
import { benchNodeArgs, findLeader, freePorts, launch, runJsonScript, stopAll } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';
import { NODE_V8_FLAGS } from '../ts/cli/node_flags';
import { REPLAY_NICE } from '../ts/cli/priority';
import { pollUntil } from '../test/helpers/poll';
import { wakeFloor, type WakeQuantiles } from './lib/wake_floor_run';

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');
const MINUTES = Number(process.env.QKV_BENCH_MINUTES ?? 4);
/** Which parts run (comma-separated): addon, max, paced, seek, ingest; all by default. */
const PARTS = new Set((process.env.QKV_BENCH_PARTS ?? 'addon,max,paced,seek,ingest').split(','));
const INSTRUMENTS = 20;
const RATE = 4000;
const ROUNDS = 3;
const SEEKS = 10;
const PRODUCERS = 4;
const INGEST_SECONDS = 4;
/** Paced sessions per speed (the host's wake-ups vary from one to the next: medians). */
const PACED_ROUNDS = Number(process.env.QKV_BENCH_PACED_ROUNDS ?? 5);
/** Longest wait for the nodes' compactions before the paced sessions and each ingest round. */
const SETTLE_MS = 60_000;

/** Ingest at `url` for `seconds` from a process of its own (bench/lib/ingest_load.ts): events/s. */
function ingestRate(url: string, seconds: number, tag: string): Promise<number> {
  return runJsonScript<{ eventsPerSecond: number; failed: number }>('ingest_load.ts', [url, String(seconds), String(PRODUCERS), tag]).then((r) => {
    if (r.failed > 0) console.error(`  ${r.failed} ingest requests failed and were sent again`);
    return r.eventsPerSecond;
  });
}

function replayRequest(url: string, body: Record<string, unknown>, accept = 'application/x-ndjson'): Promise<Response> {
  return fetch(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });
}

/**
 * A replay's response body, chunk by chunk, through node:http (the reader here must be much
 * faster than the server: undici's fetch streams topped out near 150 MiB/s on this machine).
 */
function replayChunks(url: string, body: Record<string, unknown>, accept: string, onChunk: (chunk: Buffer) => void, onHeaders?: () => void): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json', accept } }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => reject(new Error(`replay answered ${res.statusCode}: ${text}`)));
        return;
      }
      onHeaders?.();
      res.on('data', onChunk);
      res.on('end', () => resolve(res));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * A whole replay read as fast as it comes: its events (or snapshots) as its done line counts
 * them, bytes and seconds. The reader only keeps the tail (the done line): it shares the two
 * cores with the nodes, and parsing every line here would measure the reader.
 */
async function drainReplay(url: string, body: Record<string, unknown>, binary = false): Promise<{ items: number; seconds: number; bytes: number }> {
  const started = performance.now();
  let bytes = 0;
  let tail = Buffer.alloc(0);
  await replayChunks(url, body, binary ? 'application/octet-stream' : 'application/x-ndjson', (buf) => {
    bytes += buf.length;
    tail = Buffer.concat([tail, buf.subarray(Math.max(0, buf.length - 256))]).subarray(-256);
  });
  const text = tail.toString('latin1');
  const done = JSON.parse(text.slice(text.lastIndexOf('{"kind":"done"')).trim()) as { events: number; snapshots: number };
  return { items: body.kinds && (body.kinds as string[]).join() === 'book' ? done.snapshots : done.events, seconds: (performance.now() - started) / 1000, bytes };
}

async function maxSpeed(follower: string, instruments: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  const measure = async (workload: string, unit: string, run: () => Promise<{ items: number; seconds: number; bytes: number }>) => {
    const runs: { items: number; seconds: number; bytes: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) runs.push(await run());
    const rates = runs.map((x) => x.items / x.seconds);
    rows.push(logged({ workload, 'per s': Math.round(median(rates)), unit, 'p50 ms': '-', 'p99 ms': '-', detail: `${runs[0].items} ${unit} in ${median(runs.map((x) => x.seconds)).toFixed(2)} s, ${(median(runs.map((x) => x.bytes / x.seconds)) / 2 ** 20).toFixed(0)} MiB/s; rounds ${rates.map((x) => Math.round(x)).join(' / ')}` }));
  };
  await measure('replay max from a follower, NDJSON events', 'events', () => drainReplay(follower, { instruments, kinds: ['delta', 'trade', 'quote'] }));
  await measure('replay max from a follower, binary events', 'events', () => drainReplay(follower, { instruments, kinds: ['delta', 'trade', 'quote'] }, true));
  await measure('replay max from a follower, depth-10 book snapshots', 'snapshots', () => drainReplay(follower, { instruments, kinds: ['book'], depth: 10 }));
  return rows;
}

/**
 * A paced replay of `windowNs` from `from`: each event's schedule error and the total wall time.
 * The reader cannot see the node's clock, so the schedule's origin is fitted to the most
 * punctual event (the smallest arrival − venue offset / speed): errors are lateness against it.
 * Wall time runs from the response's headers (the session's start) to its end. Read from a
 * process of its own (bench/lib/paced_reader.ts).
 */
async function paced(url: string, instruments: string[], from: bigint, windowNs: bigint, speed: number): Promise<Row[]> {
  const body = JSON.stringify({ instruments, kinds: ['delta', 'trade', 'quote'], from: from.toString(), to: (from + windowNs).toString(), speed });
  const expectedMs = Number(windowNs) / 1e6 / speed;
  const rounds: { events: number; wallMs: number; p50: number; p99: number; server: { p50: number; p99: number; max: number } }[] = [];
  for (let r = 0; r < PACED_ROUNDS; r++) {
    const { offsetsMs, wallMs, id } = await runJsonScript<{ offsetsMs: number[]; wallMs: number; id: string }>('paced_reader.ts', [url, body, from.toString(), String(speed)]);
    const origin = offsetsMs.reduce((a, b) => Math.min(a, b), Infinity);
    const errorsMs = offsetsMs.map((o) => o - origin);
    rounds.push({ events: errorsMs.length, wallMs, p50: percentile(errorsMs, 50), p99: percentile(errorsMs, 99), server: await finishedSession(id) });
  }
  const med = (f: (x: (typeof rounds)[number]) => number) => median(rounds.map(f));
  const each = (f: (x: (typeof rounds)[number]) => number) => rounds.map((x) => f(x).toFixed(2)).join(' / ');
  const wallMs = med((x) => x.wallMs);
  return [
    logged({
      workload: `replay paced ${speed}x, ${Number(windowNs) / 1e9} s of venue time`,
      'per s': Math.round(med((x) => x.events / (x.wallMs / 1000))),
      unit: 'events',
      'p50 ms': med((x) => x.p50),
      'p99 ms': med((x) => x.p99),
      detail: `schedule error at the reader (lateness vs the most punctual event), median of ${PACED_ROUNDS} sessions (p99 each: ${each((x) => x.p99)}); wall ${wallMs.toFixed(0)} ms vs ${expectedMs.toFixed(0)} ms expected (${((100 * (wallMs - expectedMs)) / expectedMs).toFixed(2)}%)`,
    }),
    logged({
      workload: `... as emitted by the server (${speed}x)`,
      'per s': '-',
      unit: 'events',
      'p50 ms': med((x) => x.server.p50),
      'p99 ms': med((x) => x.server.p99),
      detail: `schedule error as each chunk is written, early or late (the sessions' replay_finished log lines; p99 each: ${each((x) => x.server.p99)}; max ${Math.max(...rounds.map((x) => x.server.max)).toFixed(2)} ms); the row above adds the kernel's and the reader's wake-ups`,
    }),
  ];
}

/**
 * This host's wake-up floor (bench/lib/wake_floor.ts, a process of its own, the cluster idle): how
 * late an idle thread runs after a precise sleep on the addon's pacer, and after a Node timer —
 * what a paced session's server-side schedule error cannot go below.
 */
async function floorRows(): Promise<Row[]> {
  const floor = await wakeFloor(3000);
  const row = (what: string, q: WakeQuantiles): Row => logged({ workload: `this host's floor: an idle process woken ${what}`, 'per s': '-', unit: 'wake-ups', 'p50 ms': q.p50, 'p99 ms': q.p99, detail: `lateness after the due time, 3 s of 0.2–2 ms waits (max ${q.max.toFixed(2)} ms); the paced rows below cannot be more punctual` });
  return [row('by the addon pacer (the replay scheduler\'s last stretch)', floor.pacer), row('by a Node timer', floor.timer)];
}

/** Replay sessions' closing log lines (`replay_finished`), by session id, from the members' output. */
const finished = new Map<string, { scheduleErrorMs: { p50: number; p99: number; max: number } | null }>();

function noteFinished(line: string): void {
  if (!line.includes('"event":"replay_finished"')) return;
  const rec = JSON.parse(line) as { id: string; scheduleErrorMs: { p50: number; p99: number; max: number } | null };
  finished.set(rec.id, rec);
}

/** The server's schedule error of session `id` (its log line follows the response's end by a turn or two). */
async function finishedSession(id: string): Promise<{ p50: number; p99: number; max: number }> {
  await pollUntil(() => finished.has(id), `the replay_finished line of session ${id}`, 5000);
  const stats = finished.get(id)!.scheduleErrorMs;
  if (!stats) throw new Error(`session ${id} reported no schedule error`);
  return stats;
}

/** Seeks a paced session to random times: ms from the seek request to the first event at or after it. */
async function seeks(url: string, instruments: string[], t0: bigint, spanNs: bigint): Promise<Row> {
  const res = await replayRequest(url, { instruments, kinds: ['delta', 'trade', 'quote', 'book'], speed: 1 });
  const id = res.headers.get('x-replay-id')!;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let state: { at: bigint; sentMs: number; resolve: (ms: number) => void } | undefined;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^\{"kind":"(delta|trade|quote)".*?"tsEvent":"(\d+)"/.exec(line);
        if (state && m && BigInt(m[2]) >= state.at) {
          // Minus the schedule's own wait for that event (speed 1: its venue time after `at`).
          state.resolve(performance.now() - state.sentMs - Number(BigInt(m[2]) - state.at) / 1e6);
          state = undefined;
        }
      }
    }
  })();
  const times: number[] = [];
  let x = 12345;
  for (let i = 0; i < SEEKS; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const at = t0 + (spanNs * BigInt(x % 1000)) / 1000n;
    const answered = new Promise<number>((resolve) => (state = { at, sentMs: performance.now(), resolve }));
    const sought = await fetch(`${url}/v1/md/replay/${id}/seek`, { method: 'POST', body: JSON.stringify({ at: at.toString() }) });
    if (sought.status !== 200) throw new Error(`seek answered ${sought.status}: ${await sought.text()}`);
    times.push(await answered);
  }
  await reader.cancel();
  await pump.catch(() => undefined);
  return logged({ workload: `seek a paced (1x) session to ${SEEKS} random times`, 'per s': '-', unit: 'seeks', 'p50 ms': percentile(times, 50), 'p99 ms': percentile(times, 99), detail: `max ${Math.max(...times).toFixed(1)} ms: seek request to the first event at or after the time, less its schedule wait` });
}

/**
 * 4 max-speed replay sessions on the learners, read by a process of their own at `nice`, while
 * `during` runs: `during`'s result once the readers stopped.
 */
async function withReplays<T>(learners: string[], body: Record<string, unknown>, nice: number, during: () => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['--import=tsx', join(__dirname, 'lib', 'replay_drainers.ts'), JSON.stringify(learners), JSON.stringify(body), '4', String(nice)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('started\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`replay_drainers.ts exited with ${code} before its sessions started`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await started;
  const result = await during();
  child.stdin!.end();
  if ((await exited) !== 0) throw new Error('replay_drainers.ts failed');
  return result;
}

/** Compaction work (bytes pending, compactions running) a node reports in its metrics. */
async function compactionWork(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`rocksdb_property\\{name="${name}"\\} (\\S+)`).exec(text)?.[1] ?? 0);
  return value('pending_compaction_bytes') + value('running_compactions');
}

/**
 * Waits until no node has compaction work left (at most `SETTLE_MS`): a round that starts with
 * the debt of the round before it stalls on it (writes slow down once L0 fills), whichever kind
 * of round it is — without this, rounds of ingest alone ranged 173–436K events/s in one run.
 */
async function settled(urls: string[]): Promise<void> {
  const until = performance.now() + SETTLE_MS;
  while (performance.now() < until) {
    const work = await Promise.all(urls.map(compactionWork));
    if (work.every((w) => w === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.error(`  compactions still pending after ${SETTLE_MS} ms; the round starts anyway`);
}

/**
 * Ingest alone, and while 4 max-speed replays run on the learners — read at normal priority,
 * and read at the learners' nice (as if the backtests ran on machines of their own) —
 * alternated: medians and ratios.
 */
async function ingestUnderReplay(leader: string, nodes: string[], learners: string[], instruments: string[], window: { from: bigint; to: bigint }): Promise<Row[]> {
  const alone: number[] = [];
  const under: Record<'0' | 'niced', number[]> = { '0': [], niced: [] };
  const body = { instruments, kinds: ['delta', 'trade', 'quote', 'book'], from: window.from.toString(), to: window.to.toString() };
  // Fresh producers and instruments each round (the day's instruments keep one venue clock).
  // Each round starts from settled stores, before its replays open.
  const ingest = (tag: string) => () => ingestRate(leader, INGEST_SECONDS, tag);
  for (let r = 0; r < ROUNDS; r++) {
    await settled(nodes);
    alone.push(await ingest(`R${r}a`)());
    await settled(nodes);
    under['0'].push(await withReplays(learners, body, 0, ingest(`R${r}b`)));
    await settled(nodes);
    under.niced.push(await withReplays(learners, body, REPLAY_NICE, ingest(`R${r}c`)));
  }
  const ratio = (xs: number[]) => `${((100 * median(xs)) / median(alone)).toFixed(0)}% of alone; rounds ${xs.map(Math.round).join(' / ')}`;
  return [
    logged({ workload: `ingest binary at the leader, ${PRODUCERS} producers, alone`, 'per s': Math.round(median(alone)), unit: 'events', 'p50 ms': '-', 'p99 ms': '-', detail: `rounds ${alone.map(Math.round).join(' / ')}` }),
    logged({ workload: '... while 4 max-speed replays run on 2 learners, read at nice 0', 'per s': Math.round(median(under['0'])), unit: 'events', 'p50 ms': '-', 'p99 ms': '-', detail: `${ratio(under['0'])}; the readers' CPU is the cluster's (one shared 2-core machine)` }),
    logged({ workload: `... read at the learners' nice (${REPLAY_NICE})`, 'per s': Math.round(median(under.niced)), unit: 'events', 'p50 ms': '-', 'p99 ms': '-', detail: `${ratio(under.niced)}; as if the backtests ran elsewhere` }),
  ];
}

/**
 * The addon's cursor alone (no storage, no HTTP): the day's records per instrument (seqs in
 * order), merged, applied and rendered in 256 KiB chunks, median of `ROUNDS`.
 */
function cursorSources(lines: string[]): { sources: Buffer[]; producers: string[] } {
  // Records per instrument (by symbol: each parsed batch numbers its own instruments), each
  // naming its producer by its index in `producers`, as the state's ids do.
  const perSymbol = new Map<string, Buffer[]>();
  const producers: string[] = [];
  let seq = 0n;
  for (let at = 0; at < lines.length; at += 10_000) {
    const batch = parseNdjson(Buffer.from(lines.slice(at, at + 10_000).join('\n')), 0n);
    for (let i = 0; i < batch.count; i++) {
      const r = Buffer.from(batch.records.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES));
      r.writeBigUInt64LE(++seq, OFFSET.seq);
      const producer = batch.producers[r.readUInt32LE(OFFSET.producer)];
      r.writeUInt32LE(producers.includes(producer) ? producers.indexOf(producer) : producers.push(producer) - 1, OFFSET.producer);
      const symbol = batch.symbols[r.readUInt32LE(OFFSET.instrument)];
      const list = perSymbol.get(symbol) ?? [];
      list.push(r);
      perSymbol.set(symbol, list);
    }
  }
  return { sources: [...perSymbol.keys()].sort().map((symbol) => Buffer.concat(perSymbol.get(symbol)!)), producers };
}

/** Measured with the day's text gone from this process's heap (its GC distorted the figures). */
function addonAlone({ sources, producers }: { sources: Buffer[]; producers: string[] }): Row[] {
  const rows: Row[] = [];
  for (const [format, kinds, books] of [['ndjson', 0b1110, false], ['binary', 0b1110, false], ['ndjson', 0, true]] as const) {
    const rates: number[] = [];
    let items = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const cursor = new ReplayCursor({ fromTs: 0n, toTs: 2n ** 64n - 1n, seqLimit: 2n ** 64n - 1n, kindsMask: kinds, books, depth: 10, snapshotEveryNs: 0n, format, levelsMax: 10_000, symbols: sources.map((_, i) => `SYM${i}`), producers, eventsBefore: 0, snapshotsBefore: 0, seqBefore: 0n });
      sources.forEach((records, i) => cursor.push(i, records, true));
      const started = performance.now();
      while (cursor.render(2n ** 64n - 1n, 256 << 10).step !== 'done');
      rates.push((books ? cursor.snapshots : cursor.events) / ((performance.now() - started) / 1000));
      items = books ? cursor.snapshots : cursor.events;
    }
    rows.push(logged({ workload: `replay cursor alone (addon, 1 core), ${books ? 'depth-10 book snapshots' : `${format} events`}`, 'per s': Math.round(median(rates)), unit: books ? 'snapshots' : 'events', 'p50 ms': '-', 'p99 ms': '-', detail: `${items} per round; rounds ${rates.map(Math.round).join(' / ')}` }));
  }
  return rows;
}

function logged(r: Row): Row {
  console.error(`  ${r.workload}: ${r['per s']} ${r.unit}/s, p50 ${r['p50 ms']} ms, p99 ${r['p99 ms']} ms — ${r.detail}`);
  return r;
}

async function appliedEverywhere(urls: string[], index: number): Promise<void> {
  for (let tries = 0; tries < 1200; tries++) {
    const applied = await Promise.all(urls.map(async (u) => ((await (await fetch(`${u}/v1/cluster`)).json()) as { appliedIndex: number }).appliedIndex));
    if (applied.every((a) => a >= index)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the members did not catch up');
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  const lines = [...generate({ instruments: INSTRUMENTS, minutes: MINUTES, seed: 1, eventsPerSecond: RATE })];
  const sources = PARTS.has('addon') ? cursorSources(lines) : { sources: [], producers: [] };
  if (PARTS.size === 1 && PARTS.has('addon')) {
    lines.length = 0;
    return printTable('replay cursor alone', addonAlone(sources));
  }
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-replay-'));
  const ports = await freePorts(10);
  const onLine = (id: number) => (line: string) => {
    noteFinished(line);
    if (/"event":"(fatal|stopping|removed|client_error)"|Error\b/.test(line)) console.error(`  n${id}: ${line}`);
  };
  const cluster = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[4 + id]}`).join(',');
  const node = (id: number, extra: string[]) => launch(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', '--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[4 + id]}`, '--snapshot-entries', '100000', ...extra, ...benchNodeArgs()], /"event":"ready"/, onLine(id));
  const procs = await Promise.all([1, 2, 3].map((id) => node(id, ['--cluster', cluster])));
  try {
    const urls = ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`);
    const leader = await findLeader(urls);
    const instruments = Array.from({ length: INSTRUMENTS }, (_, i) => `SYM${String(i + 1).padStart(3, '0')}`);
    const loadStarted = performance.now();
    await ingestLines(leader, lines, 5000);
    console.error(`  ingested ${lines.length} events (${MINUTES} min of venue time, ${INSTRUMENTS} instruments) in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
    procs.push(...(await Promise.all([4, 5].map((id) => node(id, ['--join', leader, '--role', 'replay'])))));
    const learners = [4, 5].map((id) => `http://127.0.0.1:${ports[id - 1]}`);
    const applied = ((await (await fetch(`${leader}/v1/cluster`)).json()) as { appliedIndex: number }).appliedIndex;
    await appliedEverywhere([...urls, ...learners], applied);
    const follower = urls.find((u) => u !== leader)!;
    const events = lines.length;
    const t0 = BigInt(JSON.parse(lines[0]).tsEvent);
    const spanNs = BigInt(JSON.parse(lines[lines.length - 1]).tsEvent) - t0;
    lines.length = 0; // the day's text is not needed any more: a smaller heap for the clients below
    const rows = PARTS.has('addon') ? addonAlone(sources) : [];
    if (PARTS.has('max')) rows.push(...(await maxSpeed(follower, instruments)));
    if (PARTS.has('paced')) await settled([...urls, ...learners]);
    if (PARTS.has('paced')) rows.push(...(await floorRows()));
    if (PARTS.has('paced')) rows.push(...(await paced(follower, instruments, t0 + spanNs / 4n, 20_000_000_000n, 10)));
    if (PARTS.has('paced')) rows.push(...(await paced(follower, instruments, t0 + spanNs / 4n, 150_000_000_000n, 100)));
    if (PARTS.has('seek')) rows.push(await seeks(follower, instruments, t0, spanNs));
    if (PARTS.has('ingest')) rows.push(...(await ingestUnderReplay(leader, [...urls, ...learners], learners, instruments, { from: t0, to: t0 + 60_000_000_000n })));
    printTable(`replay (${events} events, ${MINUTES} min, ${INSTRUMENTS} instruments; 3 nodes + 2 replay learners on 127.0.0.1)`, rows);
    writeResults('replay', { minutes: MINUTES, instruments: INSTRUMENTS, events, rounds: ROUNDS, rows });
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
