/**
 * `npm run bench:cluster`: a 3-node quorumkv cluster (compiled, `npm install` first) under load
 * from autocannon (HTTP/1.1) and h2load (HTTP/2, Debian's nghttp2-client), 64 connections,
 * 100-byte values; then a 3-member etcd (Debian's etcd-server) through its JSON gateway with the
 * same autocannon load, in the same run, and the ratios. `bash scripts/setup-bench.sh` installs
 * h2load and etcd.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { percentile, printTable, writeResults } from './lib/report';

const DURATION_S = Number(process.env.QKV_BENCH_SECONDS ?? 8);
const CONNECTIONS = 64;
const KEYS = 1000;
const VALUE = 'v'.repeat(100);
const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');

interface Row {
  [column: string]: string | number;
  system: string;
  workload: string;
  client: string;
  'ops/s': number;
  'p50 ms': number;
  'p99 ms': number;
  errors: number;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Spawns a process and resolves when a line of its output matches `ready`. */
function launch(cmd: string, args: string[], ready: RegExp, onLine?: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        onLine?.(line);
        if (!done && ready.test(line)) {
          done = true;
          resolve(child);
        }
      });
    }
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${cmd} exited with ${code} before it was ready`));
    });
  });
}

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

async function cannon(system: string, workload: string, url: string, request: (i: number) => { method: 'GET' | 'PUT' | 'POST'; path: string; body?: string }, multiplier = 1): Promise<Row> {
  let i = 0;
  const first = request(0);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [{
      method: first.method,
      setupRequest: (req) => {
        const r = request(i++);
        return { ...req, method: r.method, path: r.path, body: r.body, headers: { 'content-type': 'application/json' } };
      },
    }],
  });
  return {
    system,
    workload,
    client: 'autocannon h1',
    'ops/s': result.requests.average * multiplier,
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

function h2load(system: string, workload: string, urls: string[], method: 'GET' | 'PUT' | 'POST', body?: string): Row {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-h2load-'));
  try {
    const log = join(dir, 'log');
    const args = ['-c', String(CONNECTIONS), '-m', '1', '-D', String(DURATION_S), '--warm-up-time', '1', '--log-file', log, '-H', 'content-type: application/json'];
    if (body !== undefined) {
      writeFileSync(join(dir, 'body'), body);
      args.push('-d', join(dir, 'body'));
    }
    if (method !== 'GET' && method !== 'POST') args.push('-H', `:method: ${method}`);
    const out = spawnText('h2load', [...args, ...urls]);
    const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    const failed = Number(/requests: .* (\d+) failed/.exec(out)?.[1] ?? 0) + (codes ? Number(codes[3]) + Number(codes[4]) : 0);
    const latUs = readFileSync(log, 'utf8').trim().split('\n').map((l) => Number(l.split('\t')[2]));
    return { system, workload, client: 'h2load h2', 'ops/s': rps, 'p50 ms': percentile(latUs, 50) / 1000, 'p99 ms': percentile(latUs, 99) / 1000, errors: failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnText(cmd: string, args: string[]): string {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function main() {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  for (const tool of ['h2load', 'etcd']) {
    if (spawnSyncStatus('which', [tool]) !== 0) throw new Error(`${tool} is missing: run bash scripts/setup-bench.sh`);
  }
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-cluster-'));
  try {
    const q = await startQuorumkv(dir);
    try {
      const leaderUrl = `http://127.0.0.1:${q.ports[q.leader - 1]}`;
      const followerUrl = `http://127.0.0.1:${q.ports[q.leader % 3]}`;
      const put = (i: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });
      // Preload so reads find every key.
      await cannonOnce(leaderUrl, KEYS, put);
      rows.push(await cannon('quorumkv', 'write', leaderUrl, put));
      rows.push(h2load('quorumkv', 'write', Array.from({ length: 100 }, (_, i) => `${leaderUrl}/v1/kv/k${i}`), 'PUT', JSON.stringify({ value: VALUE })));
      rows.push(await cannon('quorumkv', 'read (linearizable)', leaderUrl, (i) => ({ method: 'GET', path: `/v1/kv/k${i % KEYS}` })));
      rows.push(h2load('quorumkv', 'read (linearizable)', Array.from({ length: 100 }, (_, i) => `${leaderUrl}/v1/kv/k${i}`), 'GET'));
      rows.push(await cannon('quorumkv', 'read (stale, follower)', followerUrl, (i) => ({ method: 'GET', path: `/v1/kv/k${i % KEYS}?consistency=stale` })));
      rows.push(h2load('quorumkv', 'read (stale, follower)', Array.from({ length: 100 }, (_, i) => `${followerUrl}/v1/kv/k${i}?consistency=stale`), 'GET'));
      const keys = JSON.stringify({ keys: Array.from({ length: 100 }, (_, i) => `k${i}`) });
      rows.push(await cannon('quorumkv', 'multi-get keys (100/request)', leaderUrl, () => ({ method: 'POST', path: '/v1/kv/get', body: keys }), 100));
    } finally {
      for (const p of q.procs) p.kill('SIGTERM');
    }
    const e = await startEtcd(dir);
    try {
      const url = `http://127.0.0.1:${e.ports[0]}`;
      const put = (i: number) => ({ method: 'POST' as const, path: '/v3/kv/put', body: JSON.stringify({ key: b64(`k${i % KEYS}`), value: b64(VALUE) }) });
      await cannonOnce(url, KEYS, put);
      rows.push(await cannon('etcd 3.4', 'write', url, put));
      rows.push(await cannon('etcd 3.4', 'read (linearizable)', url, (i) => ({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`) }) })));
      rows.push(await cannon('etcd 3.4', 'read (serializable)', url, (i) => ({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(`k${i % KEYS}`), serializable: true }) })));
    } finally {
      for (const p of e.procs) p.kill('SIGTERM');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(`Cluster: 3 nodes on one 2-core machine, ${CONNECTIONS} connections, 100-byte values, ${DURATION_S} s each`, rows);
  const find = (system: string, workload: string) => rows.find((r) => r.system === system && r.workload === workload && r.client === 'autocannon h1')!;
  const ratios = [
    { workload: 'write', 'quorumkv / etcd (autocannon)': ratio(find('quorumkv', 'write'), find('etcd 3.4', 'write')), target: '≥ 3×' },
    { workload: 'read (linearizable)', 'quorumkv / etcd (autocannon)': ratio(find('quorumkv', 'read (linearizable)'), find('etcd 3.4', 'read (linearizable)')), target: '≥ 5×' },
  ];
  printTable('Ratios in this run', ratios);
  writeResults('cluster', { durationSeconds: DURATION_S, connections: CONNECTIONS, valueBytes: VALUE.length, rows, ratios });
}

function ratio(a: Row, b: Row): string {
  return `${(a['ops/s'] / b['ops/s']).toFixed(2)}×`;
}

function spawnSyncStatus(cmd: string, args: string[]): number {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  return spawnSync(cmd, args).status ?? 1;
}

/** Issues `n` requests once each (preloading), 64 at a time. */
async function cannonOnce(url: string, n: number, request: (i: number) => { method: 'GET' | 'PUT' | 'POST'; path: string; body?: string }): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const r = request(next++);
      const res = await fetch(url + r.path, { method: r.method, body: r.body, headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`preload ${r.path}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
