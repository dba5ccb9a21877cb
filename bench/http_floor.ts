/**
 * `npm run bench:http-floor`: where a quorumkv leader's CPU goes per request under wrk (64
 * connections, HTTP/1.1), against two servers that do nothing: Node's own HTTP server
 * (bench/lib/floor_server.ts, the floor bench:cluster's targets are measured against) and
 * quorumkv's lean HTTP/1.1 path on a bare socket (bench/lib/lean_floor_server.ts). The same reads
 * (GET of a 100-byte value) and writes (PUT of one) go to each, and to the leader of a 3-node
 * cluster as stale reads, linearizable reads and writes. `ROUNDS` rounds (3), the servers taking
 * turns within each; medians. Per row: ops/s, the serving process's CPU-µs per request (the
 * leader's, for quorumkv) and, for quorumkv, the followers' too. Needs wrk
 * (`bash scripts/setup-bench.sh`). JSON: bench/results/http_floor.json, and a printed table.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMicros } from './lib/cpu';
import { cannonOnce, DURATION_S, type LoadRequest, wrk } from './lib/load';
import { findLeader, hasTool, launch, MAIN, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const KEYS = 1000;
const VALUE = 'x'.repeat(100);
const WARM_REQUESTS = 20_000;

const get = (suffix: string) => (i: number): LoadRequest => ({ method: 'GET', path: `/v1/kv/k${i % KEYS}${suffix}` });
const put = (i: number): LoadRequest => ({ method: 'PUT', path: `/v1/kv/k${i % KEYS}`, body: JSON.stringify({ value: VALUE }) });

/** One measurement: requests/s and CPU-µs per request of the server (and of other processes). */
interface Sample {
  opsPerS: number;
  serverUs: number;
  othersUs: number;
}

/** Warms `url` up (JIT, connections), then one wrk run, with the CPU `server` and `others` spent on it. */
async function measure(url: string, request: (i: number) => LoadRequest, server: number, others: number[] = []): Promise<Sample> {
  await cannonOnce(url, WARM_REQUESTS, request);
  const before = [server, ...others].map(cpuMicros);
  const row = wrk('', '', url, Array.from({ length: KEYS }, (_, i) => request(i)));
  const spent = [server, ...others].map((pid, i) => cpuMicros(pid) - before[i]);
  const ops = row['ops/s'] * DURATION_S;
  if (row.errors > 0 || !(ops > 0)) throw new Error(`${url}: ${row.errors} errors, ${row['ops/s']} ops/s`);
  return { opsPerS: row['ops/s'], serverUs: spent[0] / ops, othersUs: spent.slice(1).reduce((a, b) => a + b, 0) / ops };
}

/** A do-nothing server (it prints `listening <port> ...`) under the read and the write load. */
async function floor(script: string): Promise<Record<'read' | 'write', Sample>> {
  let port = 0;
  const proc = await launch(process.execPath, ['--import=tsx', join(__dirname, 'lib', script)], /^listening \d+/, (line) => {
    port ||= Number(/^listening (\d+)/.exec(line)?.[1] ?? 0);
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    return { read: await measure(url, get(''), proc.pid!), write: await measure(url, put, proc.pid!) };
  } finally {
    await stopAll([proc]);
  }
}

/** A 3-node cluster: stale and linearizable reads and writes at its leader. */
async function quorumkv(): Promise<Record<'stale' | 'read' | 'write', Sample>> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-http-floor-'));
  let procs: ChildProcess[] = [];
  try {
    const cluster = await startLocalCluster(dir);
    procs = cluster.procs;
    const leaderUrl = await findLeader(cluster.urls);
    const leader = procs[cluster.urls.indexOf(leaderUrl)].pid!;
    const followers = procs.filter((p) => p.pid !== leader).map((p) => p.pid!);
    await cannonOnce(leaderUrl, KEYS, put); // every key exists before the reads
    return {
      stale: await measure(leaderUrl, get('?consistency=stale'), leader, followers),
      read: await measure(leaderUrl, get(''), leader, followers),
      write: await measure(leaderUrl, put, leader, followers),
    };
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

type Round = { http: Record<'read' | 'write', Sample>; lean: Record<'read' | 'write', Sample>; quorumkv: Record<'stale' | 'read' | 'write', Sample> };

function rows(rounds: Round[]): Row[] {
  const row = (server: string, load: string, pick: (r: Round) => Sample, followers = false): Row => {
    const samples = rounds.map(pick);
    const m = (f: (s: Sample) => number) => median(samples.map(f));
    return {
      server,
      load,
      'ops/s': Math.round(m((s) => s.opsPerS)),
      'server cpu µs/op': Number(m((s) => s.serverUs).toFixed(1)),
      'followers cpu µs/op': followers ? Number(m((s) => s.othersUs).toFixed(1)) : '-',
      '÷ node:http floor': Number(median(rounds.map((r) => pick(r).opsPerS / (load === 'write' ? r.http.write : r.http.read).opsPerS)).toFixed(2)),
      'server µs/op over the lean floor': Number(median(rounds.map((r) => pick(r).serverUs - (load === 'write' ? r.lean.write : r.lean.read).serverUs)).toFixed(1)),
      'each round ops/s': samples.map((s) => Math.round(s.opsPerS)).join(' / '),
    };
  };
  return [
    row('node:http, doing nothing', 'read', (r) => r.http.read),
    row('lean HTTP/1.1, doing nothing', 'read', (r) => r.lean.read),
    row('quorumkv leader', 'read (stale)', (r) => r.quorumkv.stale, true),
    row('quorumkv leader', 'read (linearizable)', (r) => r.quorumkv.read, true),
    row('node:http, doing nothing', 'write', (r) => r.http.write),
    row('lean HTTP/1.1, doing nothing', 'write', (r) => r.lean.write),
    row('quorumkv leader', 'write', (r) => r.quorumkv.write, true),
  ];
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  if (!hasTool('wrk')) throw new Error('wrk is missing: bash scripts/setup-bench.sh');
  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rounds.push({ http: await floor('floor_server.ts'), lean: await floor('lean_floor_server.ts'), quorumkv: await quorumkv() });
    console.error(`  round ${round + 1}/${ROUNDS} done`);
  }
  const table = rows(rounds);
  printTable(`HTTP/1.1 under wrk (${DURATION_S} s, 64 connections): do-nothing servers and a quorumkv leader, medians of ${ROUNDS} rounds`, table);
  writeResults('http_floor', { rounds: ROUNDS, durationSeconds: DURATION_S, rows: table, each: rounds });
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
