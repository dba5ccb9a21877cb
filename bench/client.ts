/**
 * `npm run bench:client`: one client process, `CALLERS` concurrent logical callers (closed
 * loop), a 3-node cluster (dist/), 100-byte values over `KEYS` keys. Per round and mode:
 *   - `client`: QuorumClient (auto-batching, exactly-once keys on writes);
 *   - `per-request`: the same callers, one HTTP/2 request per call (GET/PUT /v1/kv/{key}) on
 *     one session to the leader — what a service without the library does.
 * Linearizable key reads/s and durable (majority-committed) writes/s, p50/p99 per call, medians
 * of `ROUNDS` rounds (modes interleaved), after `WARMUP_SECONDS` of each op and mode that are not
 * recorded (the first round ran ~30% below the others: code not yet optimized, caches cold).
 * Each row also gives the CPU time (/proc) per call of the leader, a follower (their mean) and
 * this process (callers included), and what their sum allows: the calls/s at which this
 * machine's cores would all be busy (`cap/s`) — the bound any rate here meets first.
 * Targets: ≥ 500K reads/s, ≥ 100K writes/s. JSON: bench/results/client.json.
 * (`QKV_BENCH_SECONDS`, `QKV_BENCH_ROUNDS`, `QKV_BENCH_WARMUP_SECONDS`, `QKV_CLIENT_BATCH`.)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuorumClient } from '../ts/client';
import { Http2Transport } from '../ts/client/transport';
import { cpuMicros } from './lib/cpu';
import { findLeader, startLocalCluster, stopAll } from './lib/procs';
import { median, percentile, printTable, writeResults } from './lib/report';

const CALLERS = 1000;
const KEYS = 10_000;
const SECONDS = Number(process.env.QKV_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = Number(process.env.QKV_BENCH_WARMUP_SECONDS ?? 2);
const BATCH = Number(process.env.QKV_CLIENT_BATCH ?? 1000);
const VALUE = 'v'.repeat(98); // 100 bytes as JSON text (with its quotes)

type Op = 'read' | 'write';
type Mode = 'client' | 'per-request';
/** One call: resolves when answered (throws on failure). */
type Call = (key: string) => Promise<unknown>;

/** The processes whose CPU a call costs: the leader's, the followers', and this one. */
interface Pids {
  leader: number;
  followers: number[];
}

async function startCluster(dir: string): Promise<{ procs: ChildProcess[]; leader: string; urls: string[]; pids: Pids }> {
  // Throttling off: this measures the path, not the admission controller's opinion of 1,000 callers.
  const { procs, urls } = await startLocalCluster(dir, ['--throttle', 'off']);
  const leader = await findLeader(urls);
  const pids = procs.map((p) => p.pid!);
  const at = urls.indexOf(leader);
  return { procs, urls, leader, pids: { leader: pids[at], followers: pids.filter((_, i) => i !== at) } };
}

/** CPU-µs so far: the leader, each follower, this process. */
function cpuNow(pids: Pids): number[] {
  return [cpuMicros(pids.leader), ...pids.followers.map(cpuMicros), cpuMicros(process.pid)];
}

/** CPU-µs per call between two `cpuNow` readings, and the calls/s at which every core would be busy. */
function cpuPerCall(before: number[], after: number[], calls: number): Record<string, number> {
  const us = after.map((a, i) => (calls > 0 ? (a - before[i]) / calls : 0));
  const followers = us.slice(1, -1);
  const total = us.reduce((a, b) => a + b, 0);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { leaderUs: round(us[0]), followerUs: round(followers.reduce((a, b) => a + b, 0) / followers.length), clientUs: round(us[us.length - 1]), totalUs: round(total), capPerS: total > 0 ? Math.round((cpus().length * 1e6) / total) : 0 };
}

/** The keys' names, made once: formatting them per call cost the callers ~9% of this process (perf). */
const NAMES = Array.from({ length: KEYS }, (_, i) => `k${i}`);

/** `CALLERS` closed-loop callers for `seconds`: calls/s, per-call latency percentiles, CPU per call. */
async function drive(call: Call, pids: Pids, seconds = SECONDS): Promise<Record<string, number>> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = cpuNow(pids);
  await Promise.all(Array.from({ length: CALLERS }, async (_, i) => {
    for (let n = 0; performance.now() < end; n++) {
      const t0 = performance.now();
      try {
        await call(NAMES[(i * 7919 + n) % KEYS]);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  }));
  const cpu = cpuPerCall(cpuBefore, cpuNow(pids), latencies.length);
  return { opsPerS: latencies.length / ((performance.now() - started) / 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors, ...cpu };
}

function calls(client: QuorumClient, h2: Http2Transport, leader: string): Record<Mode, Record<Op, Call>> {
  const body = JSON.stringify({ value: VALUE });
  const raw = async (method: 'GET' | 'PUT', key: string) => {
    const res = await h2.request(leader, { method, path: `/v1/kv/${key}`, body: method === 'PUT' ? body : undefined, timeoutMs: 30_000 });
    if (res.status !== 200) throw new Error(`${method} answered ${res.status}`);
  };
  return {
    client: { read: (k) => client.get(k), write: (k) => client.put(k, VALUE) },
    'per-request': { read: (k) => raw('GET', k), write: (k) => raw('PUT', k) },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-client-'));
  const cluster = await startCluster(dir);
  const client = new QuorumClient({ endpoints: cluster.urls, batchItemsMax: BATCH, timeoutMs: 30_000 });
  const h2 = new Http2Transport();
  const rows: Record<string, string | number>[] = [];
  try {
    for (let i = 0; i < KEYS; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => client.put(`k${i + j}`, VALUE)));
    const table = calls(client, h2, cluster.leader);
    for (const op of ['read', 'write'] as const) for (const mode of ['client', 'per-request'] as const) await drive(table[mode][op], cluster.pids, WARMUP_SECONDS);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const op of ['read', 'write'] as const) {
        const modes: Mode[] = round % 2 === 1 ? ['client', 'per-request'] : ['per-request', 'client'];
        for (const mode of modes) {
          const r = await drive(table[mode][op], cluster.pids);
          rows.push({ round, op, mode, ...r });
          console.log(JSON.stringify(rows[rows.length - 1]));
        }
      }
    }
  } finally {
    client.close();
    h2.close();
    await stopAll(cluster.procs);
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = (['read', 'write'] as const).flatMap((op) => (['client', 'per-request'] as const).map((mode) => {
    const mine = rows.filter((r) => r.op === op && r.mode === mode);
    const m = (k: string) => median(mine.map((r) => r[k] as number));
    const cpu = { 'cpu µs/call leader': m('leaderUs'), follower: m('followerUs'), client: m('clientUs'), total: m('totalUs'), 'cap/s': m('capPerS') };
    return { op, mode, 'ops/s': m('opsPerS'), 'p50 ms': m('p50Ms'), 'p99 ms': m('p99Ms'), errors: m('errors'), ...cpu, target: mode === 'client' ? (op === 'read' ? '≥ 500K/s' : '≥ 100K/s') : '' };
  }));
  printTable(`${CALLERS} callers, one client process, 3 nodes, 100-byte values, ${SECONDS} s × ${ROUNDS} rounds (medians); client batches ≤ ${BATCH}`, summary);
  writeResults('client', { callers: CALLERS, keys: KEYS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, batchItemsMax: BATCH, rounds: rows, summary });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
