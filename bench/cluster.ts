/**
 * `npm run bench:cluster`: a 3-node quorumkv cluster (compiled, `npm install` first) under load
 * from autocannon and wrk (HTTP/1.1) and h2load (HTTP/2, Debian's nghttp2-client), 64
 * connections, 100-byte values; then a 3-member etcd (Debian's etcd-server) through its JSON
 * gateway with the same autocannon and wrk loads, in the same run, and the ratios. First of all it
 * measures the floor: a node:http server that does no work at all (bench/lib/floor_server.ts)
 * under the same loads — the most any node:http front end can serve on this machine, and so
 * the most quorumkv could. The three take turns for `QKV_BENCH_ROUNDS` rounds (3) and the
 * table holds medians. `bash scripts/setup-bench.sh` installs h2load, wrk and etcd.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannon, cannonOnce, CONNECTIONS, DURATION_S, h2load, type LoadRequest, type Row, wrk } from './lib/load';
import { freePorts, hasTool, launch, stopAll } from './lib/procs';
import { median, printTable, type Row as TableRow, writeResults } from './lib/report';

const KEYS = 1000;
/** Every system is measured this many times, in turn: this machine's noise is about ±15%. */
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const VALUE = 'v'.repeat(100);
const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');
const FLOOR = join(__dirname, 'lib', 'floor_server.ts');

async function startQuorumkv(dir: string): Promise<{ procs: ChildProcess[]; ports: number[]; leader: number }> {
  const ports = await freePorts(6);
  const cluster = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const leaders = new Map<number, number>();
  let onLeader: () => void = () => undefined;
  const procs = await Promise.all([1, 2, 3].map((id) =>
    launch(process.execPath, [MAIN, 'start', '--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', cluster], /"event":"ready"/, (line) => {
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
  const proc = await launch(process.execPath, ['--import', 'tsx', FLOOR], /^listening \d+/, (line) => {
    const m = /^listening (\d+)/.exec(line);
    if (m) port = Number(m[1]);
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    const put = (i: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });
    const get = (i: number) => ({ method: 'GET' as const, path: `/v1/kv/k${i % KEYS}` });
    rows.push(await cannon('node:http floor', 'write', url, put));
    rows.push(wrk('node:http floor', 'write', url, keyRequests(put)));
    rows.push(await cannon('node:http floor', 'read (linearizable)', url, get));
    rows.push(wrk('node:http floor', 'read (linearizable)', url, keyRequests(get)));
  } finally {
    await stopAll([proc]);
  }
}

async function measureQuorumkv(dir: string, rows: Row[]): Promise<void> {
  const q = await startQuorumkv(dir);
  try {
    const leaderUrl = `http://127.0.0.1:${q.ports[q.leader - 1]}`;
    const followerUrl = `http://127.0.0.1:${q.ports[q.leader % 3]}`;
    const put = (i: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });
    const get = (i: number) => ({ method: 'GET' as const, path: `/v1/kv/k${i % KEYS}` });
    // Preload so reads find every key.
    await cannonOnce(leaderUrl, KEYS, put);
    rows.push(await cannon('quorumkv', 'write', leaderUrl, put));
    rows.push(wrk('quorumkv', 'write', leaderUrl, keyRequests(put)));
    rows.push(h2load('quorumkv', 'write', Array.from({ length: 100 }, (_, i) => `${leaderUrl}/v1/kv/k${i}`), 'PUT', JSON.stringify({ value: VALUE })));
    rows.push(await cannon('quorumkv', 'read (linearizable)', leaderUrl, get));
    rows.push(wrk('quorumkv', 'read (linearizable)', leaderUrl, keyRequests(get)));
    rows.push(h2load('quorumkv', 'read (linearizable)', Array.from({ length: 100 }, (_, i) => `${leaderUrl}/v1/kv/k${i}`), 'GET'));
    rows.push(await cannon('quorumkv', 'read (stale, follower)', followerUrl, (i) => ({ method: 'GET', path: `/v1/kv/k${i % KEYS}?consistency=stale` })));
    rows.push(h2load('quorumkv', 'read (stale, follower)', Array.from({ length: 100 }, (_, i) => `${followerUrl}/v1/kv/k${i}?consistency=stale`), 'GET'));
    const keys = JSON.stringify({ keys: Array.from({ length: 100 }, (_, i) => `k${i}`) });
    rows.push(await cannon('quorumkv', 'multi-get keys (100/request)', leaderUrl, () => ({ method: 'POST', path: '/v1/kv/get', body: keys }), 100));
  } finally {
    await stopAll(q.procs);
  }
}

async function measureEtcd(dir: string, rows: Row[]): Promise<void> {
  const e = await startEtcd(dir);
  try {
    const url = `http://127.0.0.1:${e.ports[0]}`;
    const put = (i: number) => ({ method: 'POST' as const, path: '/v3/kv/put', body: JSON.stringify({ key: b64(`k${i % KEYS}`), value: b64(VALUE) }) });
    const get = (i: number) => ({ method: 'POST' as const, path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`) }) });
    await cannonOnce(url, KEYS, put);
    rows.push(await cannon('etcd 3.4', 'write', url, put));
    rows.push(wrk('etcd 3.4', 'write', url, keyRequests(put)));
    rows.push(await cannon('etcd 3.4', 'read (linearizable)', url, get));
    rows.push(wrk('etcd 3.4', 'read (linearizable)', url, keyRequests(get)));
    rows.push(await cannon('etcd 3.4', 'read (serializable)', url, (i) => ({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`), serializable: true }) })));
  } finally {
    await stopAll(e.procs);
  }
}

/** One row per (system, workload, client): medians over the rounds, and each round's ops/s. */
function combine(rounds: Row[][]): Row[] {
  return rounds[0].map((first) => {
    const same = rounds.map((rows) => rows.find((r) => r.system === first.system && r.workload === first.workload && r.client === first.client)!);
    return {
      ...first,
      'ops/s': median(same.map((r) => r['ops/s'])),
      'p50 ms': median(same.map((r) => r['p50 ms'])),
      'p99 ms': median(same.map((r) => r['p99 ms'])),
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
        const ops = (system: string) => rows.find((r) => r.system === system && r.workload === workload && r.client === client)!['ops/s'];
        return { q: ops('quorumkv'), e: ops('etcd 3.4'), f: ops('node:http floor') };
      });
      out.push({
        workload,
        client,
        'quorumkv / etcd': `${median(per.map((x) => x.q / x.e)).toFixed(2)}×`,
        target: `≥ ${target}×`,
        'target ops/s': Math.round(median(per.map((x) => x.e * target))),
        'floor / etcd': `${median(per.map((x) => x.f / x.e)).toFixed(2)}×`,
      });
    }
  }
  return out;
}

async function main() {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  for (const tool of ['h2load', 'wrk', 'etcd']) {
    if (!hasTool(tool)) throw new Error(`${tool} is missing: run bash scripts/setup-bench.sh`);
  }
  const rounds: Row[][] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-cluster-'));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round} of ${ROUNDS}`);
      const rows: Row[] = [];
      await measureFloor(rows);
      await measureQuorumkv(join(dir, `q${round}`), rows);
      await measureEtcd(join(dir, `e${round}`), rows);
      rounds.push(rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = combine(rounds);
  printTable(`Cluster: 3 nodes on one 2-core machine, ${CONNECTIONS} connections, 100-byte values, ${DURATION_S} s each, medians of ${ROUNDS} rounds`, rows);
  const r = ratios(rounds);
  printTable('Ratios (median over rounds; floor: a node:http server doing no work, same load)', r);
  writeResults('cluster', { durationSeconds: DURATION_S, rounds: ROUNDS, connections: CONNECTIONS, valueBytes: VALUE.length, rows, ratios: r, eachRound: rounds });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
