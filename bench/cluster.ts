/**
 * `npm run bench:cluster`: a 3-node quorumkv cluster (compiled, `npm install` first) under load
 * from autocannon and wrk (HTTP/1.1) and h2load (HTTP/2, Debian's nghttp2-client), 64
 * connections, 100-byte values; then a 3-member etcd (Debian's etcd-server, 3.4) through its JSON
 * gateway with the same autocannon and wrk loads, and etcd 3.7 over its native gRPC API driven by
 * its Go client (bench/lib/etcd37.ts), in the same run, and the ratios. First of all it
 * measures the floor: a node:http server that does no work at all (bench/lib/floor_server.ts)
 * under the same loads — the most any node:http front end can serve on this machine, and so
 * the most quorumkv could. The three take turns for `QKV_BENCH_ROUNDS` rounds (3) and the
 * table holds medians. Every row also gives the CPU time the system's processes spent per
 * operation (`cpu µs/op`, from /proc: bench/lib/cpu.ts) — what ops/s on a shared 2-core machine
 * hides. `bash scripts/setup-bench.sh` installs h2load, wrk and etcd 3.4, and builds etcd 3.7.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannon, cannonOnce, CONNECTIONS, DURATION_S, findRow, h2load, type LoadRequest, type Row, wrk } from './lib/load';
import { benchNodeArgs, freePorts, hasTool, launch, stopAll } from './lib/procs';
import { withCpu } from './lib/cpu';
import { etcd37Ratios, grpcLoad, hasEtcd37, preloadEtcd37, startEtcd37 } from './lib/etcd37';
import { median, percentile, printTable, type Row as TableRow, writeResults } from './lib/report';
import { NODE_V8_FLAGS } from '../ts/cli/node_flags';

const KEYS = 1000;
/** Which systems to measure (QKV_BENCH_PARTS, comma-separated); all by default. */
const PARTS = new Set((process.env.QKV_BENCH_PARTS ?? 'floor,quorumkv,metrics-off,etcd,etcd37').split(','));
/** Every system is measured this many times, in turn: this machine's noise is about ±15%. */
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const VALUE = 'v'.repeat(100);
/** Streams per connection in the multiplexed HTTP/2 rows (64 in flight on 8 connections). */
const H2_STREAMS = 8;
const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');
const FLOOR = join(__dirname, 'lib', 'floor_server.ts');

async function startQuorumkv(dir: string, extraArgs: string[] = []): Promise<{ procs: ChildProcess[]; ports: number[]; leader: number }> {
  const ports = await freePorts(6);
  const cluster = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const leaders = new Map<number, number>();
  let onLeader: () => void = () => undefined;
  const procs = await Promise.all([1, 2, 3].map((id) =>
    launch(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', '--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', cluster, ...extraArgs, ...benchNodeArgs()], /"event":"ready"/, (line) => {
      const m = /"event":"role".*"leader":(\d+)/.exec(line);
      if (m) {
        leaders.set(id, Number(m[1]));
        onLeader();
      }
    }),
  ));
  const leader = await new Promise<number>((resolve) => {
    onLeader = () => {
      const seen = [...leaders.values()];
      if (seen.length === 3 && seen[0] !== 0 && seen.every((l) => l === seen[0])) resolve(seen[0]);
    };
    onLeader();
  });
  return { procs, ports: ports.slice(0, 3), leader };
}

async function startEtcd(dir: string): Promise<{ procs: ChildProcess[]; ports: number[] }> {
  const ports = await freePorts(6);
  const initial = [1, 2, 3].map((i) => `e${i}=http://127.0.0.1:${ports[2 + i]}`).join(',');
  const procs = await Promise.all([1, 2, 3].map((i) =>
    launch('etcd', [
      '--name', `e${i}`, '--data-dir', join(dir, `e${i}`),
      '--listen-client-urls', `http://127.0.0.1:${ports[i - 1]}`, '--advertise-client-urls', `http://127.0.0.1:${ports[i - 1]}`,
      '--listen-peer-urls', `http://127.0.0.1:${ports[2 + i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[2 + i]}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench',
    ], /ready to serve client requests/),
  ));
  return { procs, ports: ports.slice(0, 3) };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const keyRequests = (request: (i: number) => LoadRequest) => Array.from({ length: KEYS }, (_, i) => request(i));

async function measureFloor(rows: Row[]): Promise<void> {
  let port = 0;
  let h2Port = 0;
  const proc = await launch(process.execPath, ['--import', 'tsx', FLOOR], /^listening \d+ \d+/, (line) => {
    const m = /^listening (\d+) (\d+)/.exec(line);
    if (m) [port, h2Port] = [Number(m[1]), Number(m[2])];
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    const put = (i: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });
    const get = (i: number) => ({ method: 'GET' as const, path: `/v1/kv/k${i % KEYS}` });
    const cpu = (load: () => Row | Promise<Row>) => withCpu([proc.pid!], DURATION_S, load);
    rows.push(await cpu(() => cannon('node:http floor', 'write', url, put)));
    rows.push(await cpu(() => wrk('node:http floor', 'write', url, keyRequests(put))));
    rows.push(await cpu(() => cannon('node:http floor', 'read (linearizable)', url, get)));
    rows.push(await cpu(() => wrk('node:http floor', 'read (linearizable)', url, keyRequests(get))));
    // The HTTP/2 floor (core API), for the h2 / h1 table: what Node's HTTP/2 costs by itself.
    const h2Urls = Array.from({ length: 100 }, (_, i) => `http://127.0.0.1:${h2Port}/v1/kv/k${i}`);
    for (const streams of [1, H2_STREAMS]) {
      rows.push(await cpu(() => h2load('node:http floor', 'write', h2Urls, 'PUT', JSON.stringify({ value: VALUE }), streams)));
      rows.push(await cpu(() => h2load('node:http floor', 'read (linearizable)', h2Urls, 'GET', undefined, streams)));
    }
  } finally {
    await stopAll([proc]);
  }
}

/**
 * Scrapes every node's /metrics once a second while `work` runs (Prometheus' default is 15 s:
 * this is the harsh case); returns the largest render time the nodes reported.
 */
async function whileScraped(ports: number[], work: () => Promise<void>): Promise<number> {
  let worstMs = 0;
  const timer = setInterval(() => {
    for (const port of ports) {
      void fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => {
        const m = /^quorumkv_scrape_duration_seconds ([\d.e-]+)$/m.exec(await r.text());
        if (m) worstMs = Math.max(worstMs, Number(m[1]) * 1000);
      }, () => undefined);
    }
  }, 1000);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return worstMs;
}

const scrapeWorstMs: number[] = [];
/** Render times (ms) of scrapes of an idle cluster after its workloads: the event loop's cost. */
const idleScrapes: number[] = [];

async function measureQuorumkv(dir: string, rows: Row[], system = 'quorumkv', extraArgs: string[] = []): Promise<void> {
  const q = await startQuorumkv(dir, extraArgs);
  const metricsOn = !extraArgs.includes('off');
  try {
    if (metricsOn) {
      scrapeWorstMs.push(await whileScraped(q.ports, () => workloads(q, rows, system)));
      idleScrapes.push(...(await idleScrapeMs(q.ports)));
    } else await workloads(q, rows, system);
  } finally {
    await stopAll(q.procs);
  }
}

/**
 * `QKV_BENCH_WORKLOADS` (e.g. `write,read (stale, leader)`) narrows quorumkv's workloads: split on
 * the commas outside parentheses (workload names hold some).
 */
const WORKLOADS = process.env.QKV_BENCH_WORKLOADS ? new Set(process.env.QKV_BENCH_WORKLOADS.split(/,(?![^(]*\))/)) : undefined;

async function workloads(q: { procs: ChildProcess[]; ports: number[]; leader: number }, rows: Row[], system: string): Promise<void> {
  const first = rows.length;
  const leaderUrl = `http://127.0.0.1:${q.ports[q.leader - 1]}`;
  const followerUrl = `http://127.0.0.1:${q.ports[q.leader % 3]}`;
  const put = (i: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });
  const get = (i: number) => ({ method: 'GET' as const, path: `/v1/kv/k${i % KEYS}` });
  const stale = (i: number) => ({ method: 'GET' as const, path: `/v1/kv/k${i % KEYS}?consistency=stale` });
  const urls = (base: string, suffix = '') => Array.from({ length: 100 }, (_, i) => `${base}/v1/kv/k${i}${suffix}`);
  const keys = JSON.stringify({ keys: Array.from({ length: 100 }, (_, i) => `k${i}`) });
  const plan: [string, () => Row | Promise<Row>][] = [
    ['write', () => cannon('quorumkv', 'write', leaderUrl, put)],
    ['write', () => wrk('quorumkv', 'write', leaderUrl, keyRequests(put))],
    ['write', () => h2load('quorumkv', 'write', urls(leaderUrl), 'PUT', JSON.stringify({ value: VALUE }))],
    ['write', () => h2load('quorumkv', 'write', urls(leaderUrl), 'PUT', JSON.stringify({ value: VALUE }), H2_STREAMS)],
    ['read (linearizable)', () => cannon('quorumkv', 'read (linearizable)', leaderUrl, get)],
    ['read (linearizable)', () => wrk('quorumkv', 'read (linearizable)', leaderUrl, keyRequests(get))],
    ['read (linearizable)', () => h2load('quorumkv', 'read (linearizable)', urls(leaderUrl), 'GET')],
    ['read (linearizable)', () => h2load('quorumkv', 'read (linearizable)', urls(leaderUrl), 'GET', undefined, H2_STREAMS)],
    // Stale reads on the leader too: the same node as the linearizable ones, strictly less work.
    ['read (stale, leader)', () => cannon('quorumkv', 'read (stale, leader)', leaderUrl, stale)],
    ['read (stale, leader)', () => wrk('quorumkv', 'read (stale, leader)', leaderUrl, keyRequests(stale))],
    ['read (stale, follower)', () => cannon('quorumkv', 'read (stale, follower)', followerUrl, stale)],
    ['read (stale, follower)', () => h2load('quorumkv', 'read (stale, follower)', urls(followerUrl, '?consistency=stale'), 'GET')],
    ['multi-get keys (100/request)', () => cannon('quorumkv', 'multi-get keys (100/request)', leaderUrl, () => ({ method: 'POST', path: '/v1/kv/get', body: keys }), 100)],
  ];
  // Preload so reads find every key.
  await cannonOnce(leaderUrl, KEYS, put);
  const pids = q.procs.map((p) => p.pid!);
  for (const [workload, run] of plan) if (!WORKLOADS || WORKLOADS.has(workload)) rows.push(await withCpu(pids, DURATION_S, run));
  for (const r of rows.slice(first)) r.system = system;
}

/** The render time each node reports over `n` scrapes one after another, the cluster idle. */
async function idleScrapeMs(ports: number[], n = 20): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const port of ports) {
      const m = /^quorumkv_scrape_duration_seconds ([\d.e-]+)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      if (m && i > 0) out.push(Number(m[1]) * 1000);
    }
  }
  return out;
}

async function measureEtcd(dir: string, rows: Row[]): Promise<void> {
  const e = await startEtcd(dir);
  try {
    const url = `http://127.0.0.1:${e.ports[0]}`;
    const put = (i: number) => ({ method: 'POST' as const, path: '/v3/kv/put', body: JSON.stringify({ key: b64(`k${i % KEYS}`), value: b64(VALUE) }) });
    const get = (i: number) => ({ method: 'POST' as const, path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`) }) });
    await cannonOnce(url, KEYS, put);
    const cpu = (load: () => Row | Promise<Row>) => withCpu(e.procs.map((p) => p.pid!), DURATION_S, load);
    rows.push(await cpu(() => cannon('etcd 3.4', 'write', url, put)));
    rows.push(await cpu(() => wrk('etcd 3.4', 'write', url, keyRequests(put))));
    rows.push(await cpu(() => cannon('etcd 3.4', 'read (linearizable)', url, get)));
    rows.push(await cpu(() => wrk('etcd 3.4', 'read (linearizable)', url, keyRequests(get))));
    rows.push(await cpu(() => cannon('etcd 3.4', 'read (serializable)', url, (i) => ({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`), serializable: true }) }))));
  } finally {
    await stopAll(e.procs);
  }
}

/** etcd 3.7 over gRPC (bench/lib/etcd37.ts): writes, linearizable and serializable reads. */
async function measureEtcd37(dir: string, rows: Row[]): Promise<void> {
  const e = await startEtcd37(dir);
  try {
    preloadEtcd37(e.endpoints, KEYS);
    const cpu = (load: () => Row) => withCpu(e.procs.map((p) => p.pid!), DURATION_S, load);
    rows.push(await cpu(() => grpcLoad('write', e.endpoints, 'put', KEYS)));
    rows.push(await cpu(() => grpcLoad('read (linearizable)', e.endpoints, 'get', KEYS)));
    rows.push(await cpu(() => grpcLoad('read (serializable)', e.endpoints, 'get-serializable', KEYS)));
  } finally {
    await stopAll(e.procs);
  }
}

/** One row per (system, workload, client): medians over the rounds, and each round's ops/s. */
function combine(rounds: Row[][]): Row[] {
  return rounds[0].map((first) => {
    const same = rounds.map((rows) => findRow(rows, first.system, first.workload, first.client)!);
    return {
      ...first,
      'ops/s': median(same.map((r) => r['ops/s'])),
      'p50 ms': median(same.map((r) => r['p50 ms'])),
      'p99 ms': median(same.map((r) => r['p99 ms'])),
      'cpu µs/op': median(same.map((r) => Number(r['cpu µs/op'] ?? 0))),
      errors: same.reduce((n, r) => n + r.errors, 0),
      'each round ops/s': same.map((r) => Math.round(r['ops/s'])).join(' / '),
    };
  });
}

/**
 * quorumkv / etcd for each workload and client (the median of the rounds' ratios, each from
 * measurements minutes apart), beside the target, the ops/s it takes, and the floor's ratio: a
 * ratio above the floor's is out of reach of any node:http server here.
 */
function ratios(rounds: Row[][]): TableRow[] {
  const out: TableRow[] = [];
  const targets: [string, number][] = [['write', 3], ['read (linearizable)', 5]];
  for (const [workload, target] of targets) {
    for (const client of ['autocannon h1', 'wrk h1']) {
      const per = rounds.map((rows) => {
        const ops = (system: string) => findRow(rows, system, workload, client)!['ops/s'];
        const cpu = (system: string) => Number(findRow(rows, system, workload, client)!['cpu µs/op']);
        return { q: ops('quorumkv'), e: ops('etcd 3.4'), f: ops('node:http floor'), qCpu: cpu('quorumkv'), eCpu: cpu('etcd 3.4') };
      });
      out.push({
        workload,
        client,
        'quorumkv / etcd': `${median(per.map((x) => x.q / x.e)).toFixed(2)}×`,
        target: `≥ ${target}×`,
        'target ops/s': Math.round(median(per.map((x) => x.e * target))),
        'floor / etcd': `${median(per.map((x) => x.f / x.e)).toFixed(2)}×`,
        'cpu µs/op quorumkv / etcd': `${median(per.map((x) => x.qCpu / x.eCpu)).toFixed(2)}× (target ≤ 0.33×)`,
      });
    }
  }
  return out;
}

async function main() {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  for (const tool of ['h2load', 'wrk', ...(PARTS.has('etcd') ? ['etcd'] : [])]) {
    if (!hasTool(tool)) throw new Error(`${tool} is missing: run bash scripts/setup-bench.sh`);
  }
  if (PARTS.has('etcd37') && !hasEtcd37()) throw new Error('etcd 3.7 is not built: run bash scripts/setup-bench.sh (it needs Go)');
  const rounds: Row[][] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-cluster-'));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round} of ${ROUNDS}`);
      const rows: Row[] = [];
      if (PARTS.has('floor')) await measureFloor(rows);
      // Metrics on (the default) and off take turns: their ratio is the cost of the metrics.
      if (PARTS.has('quorumkv')) await measureQuorumkv(join(dir, `q${round}`), rows);
      if (PARTS.has('metrics-off')) await measureQuorumkv(join(dir, `m${round}`), rows, 'quorumkv metrics off', ['--metrics', 'off']);
      if (PARTS.has('etcd')) await measureEtcd(join(dir, `e${round}`), rows);
      if (PARTS.has('etcd37')) await measureEtcd37(join(dir, `g${round}`), rows);
      rounds.push(rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = combine(rounds);
  printTable(`Cluster: 3 nodes on one 2-core machine, ${CONNECTIONS} connections, 100-byte values, ${DURATION_S} s each, medians of ${ROUNDS} rounds`, rows);
  const r = PARTS.has('etcd') && PARTS.has('floor') && PARTS.has('quorumkv') ? ratios(rounds) : [];
  printTable('Ratios (median over rounds; floor: a node:http server doing no work, same load)', r);
  const e37 = PARTS.has('quorumkv') && PARTS.has('etcd37') ? etcd37Ratios(rounds) : [];
  printTable('quorumkv / etcd 3.7 over gRPC (64 callers on 8 connections, to the leader), median over rounds', e37);
  const h2 = PARTS.has('quorumkv') ? h2Ratios(rounds) : [];
  printTable('HTTP/2 / HTTP/1.1 on the leader: h2load / wrk ops/s (median over rounds), CPU µs per op of the nodes beside', h2);
  const cost = PARTS.has('quorumkv') && PARTS.has('metrics-off') ? metricsCost(rounds) : [];
  const idle = idleScrapes.length > 0 ? { p50: percentile(idleScrapes, 50), p99: percentile(idleScrapes, 99), max: Math.max(...idleScrapes) } : undefined;
  printTable(`Metrics cost: ops/s with metrics on (scraped every second) / off, median over rounds. Scrape render wall time (yielded turns included; the loop's longest hold is bench:scrape's, target ≤ 2 ms): idle p50 ${idle?.p50.toFixed(2)} / p99 ${idle?.p99.toFixed(2)} / max ${idle?.max.toFixed(2)} ms; under load (CPU shared) worst ${Math.max(0, ...scrapeWorstMs).toFixed(2)} ms`, cost);
  const name = PARTS.size === 5 ? 'cluster' : `cluster-${[...PARTS].join('-')}`;
  writeResults(name, { durationSeconds: DURATION_S, rounds: ROUNDS, connections: CONNECTIONS, valueBytes: VALUE.length, rows, ratios: r, etcd37Ratios: e37, h2Ratios: h2, metricsCost: cost, scrapeIdleMs: idle, scrapeUnderLoadWorstMs: Math.max(0, ...scrapeWorstMs), eachRound: rounds });
}

/**
 * quorumkv's HTTP/2 throughput over its HTTP/1.1 throughput for the same 64 requests in flight:
 * one stream on each of 64 connections, and 8 streams on each of 8 (target ≥ 0.8); beside it the
 * same ratio for the do-nothing floor server (what Node's HTTP/2 costs by itself).
 */
function h2Ratios(rounds: Row[][]): TableRow[] {
  const out: TableRow[] = [];
  for (const workload of ['write', 'read (linearizable)']) {
    for (const client of ['h2load h2', `h2load h2 ${CONNECTIONS / H2_STREAMS}×${H2_STREAMS}`]) {
      const pairs = (system: string) => rounds
        .map((rows) => ({ h2: findRow(rows, system, workload, client), h1: findRow(rows, system, workload, 'wrk h1') }))
        .filter((x): x is { h2: Row; h1: Row } => x.h2 !== undefined && x.h1 !== undefined);
      const ratio = (system: string) => {
        const per = pairs(system);
        return per.length === 0 ? '-' : `${median(per.map((x) => x.h2['ops/s'] / x.h1['ops/s'])).toFixed(2)}×`;
      };
      const per = pairs('quorumkv');
      if (per.length === 0) continue;
      out.push({
        workload,
        client,
        'h2 / h1': ratio('quorumkv'),
        target: '≥ 0.8×',
        'cpu µs/op h2': Math.round(median(per.map((x) => Number(x.h2['cpu µs/op'])))),
        'cpu µs/op h1': Math.round(median(per.map((x) => Number(x.h1['cpu µs/op'])))),
        'floor h2 / h1': ratio('node:http floor'),
      });
    }
  }
  return out;
}

/**
 * Per workload and client: quorumkv with metrics on / off (each round's ratio; their median).
 * Beside the throughput ratio, the CPU the nodes spent per operation, on / off: on these shared
 * cores throughput swings by tens of percent between back-to-back runs, CPU per operation far less.
 */
function metricsCost(rounds: Row[][]): TableRow[] {
  return rounds[0].filter((r) => r.system === 'quorumkv').map((first) => {
    const pick = (rows: Row[], system: string) => findRow(rows, system, first.workload, first.client)!;
    const ratio = rounds.map((rows) => pick(rows, 'quorumkv')['ops/s'] / pick(rows, 'quorumkv metrics off')['ops/s']);
    const cpu = rounds.map((rows) => Number(pick(rows, 'quorumkv')['cpu µs/op']) / Number(pick(rows, 'quorumkv metrics off')['cpu µs/op']));
    const m = median(ratio);
    const c = median(cpu);
    return {
      workload: first.workload,
      client: first.client,
      'on / off': m.toFixed(3),
      cost: `${((1 - m) * 100).toFixed(1)}%`,
      'each round': ratio.map((x) => x.toFixed(3)).join(' / '),
      'cpu µs/op on / off': c.toFixed(3),
      'cpu cost': `${((c - 1) * 100).toFixed(1)}%`,
      'cpu each round': cpu.map((x) => x.toFixed(3)).join(' / '),
      target: '≤ 3%',
    };
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
