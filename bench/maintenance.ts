/**
 * `npm run bench:maintenance`: what an operator's maintenance costs a 3-node cluster's clients.
 * The cluster holds `QKV_BENCH_KEYS` keys (default 500,000); each round overwrites all of them
 * (the old values are garbage for a defrag to drop), then, while a probe writes one key at a time (closed loop,
 * to the leader), runs in turn:
 * - idle: the probe alone for 2 s (the baseline);
 * - hash: `POST /v1/maintenance/hash` and every member's digest at that entry (what
 *   `quorumkv hash --cluster` does; each member reads every key off its event loop);
 * - defrag: `POST /v1/maintenance/defrag` on each member in turn (`quorumkv defrag --cluster`).
 * Reported per operation: its wall time, the probe's p50/p99/max and their ratio to idle, and for
 * the defrag the SST bytes before and after (summed over members); medians over
 * `QKV_BENCH_ROUNDS` rounds (default 3). JSON: bench/results/maintenance.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { probed } from './lib/probe';
import { findLeader, startLocalCluster, stopAll } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 500_000);
/** Items per batch (the API's limit). */
const BATCH = 1000;
const OPS = ['idle', 'hash', 'defrag'] as const;
type MaintenanceOp = (typeof OPS)[number];

async function call(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Keys `from` to `to` (exclusive) put with values of generation `gen`, in batches. */
async function put(leader: string, from: number, to: number, gen: number): Promise<void> {
  for (let i = from; i < to; i += BATCH) {
    const ops = Array.from({ length: Math.min(BATCH, to - i) }, (_, j) => ({ op: 'put', key: `m/${String(i + j).padStart(8, '0')}`, value: { px: i + j + gen / 10, qty: 100, gen } }));
    await call(`${leader}/v1/batch`, { method: 'POST', body: JSON.stringify({ ops }) });
  }
}

/** One hash entry and every member's digest of it (they must agree). */
async function hashAll(leader: string, members: string[]): Promise<Row> {
  const { index } = (await call(`${leader}/v1/maintenance/hash`, { method: 'POST' })) as { index: number };
  const digests = await Promise.all(
    members.map(async (m) => {
      for (;;) {
        const res = await fetch(`${m}/v1/maintenance/hash?index=${index}`);
        const body = (await res.json()) as { sha256?: string };
        if (res.ok) return body.sha256!;
        if (res.status !== 404) throw new Error(`${m}: ${res.status} ${JSON.stringify(body)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  if (new Set(digests).size !== 1) throw new Error(`members' digests differ at ${index}: ${digests.join(' ')}`);
  return {};
}

async function defragAll(members: string[]): Promise<Row> {
  let before = 0;
  let after = 0;
  for (const m of members) {
    const r = (await call(`${m}/v1/maintenance/defrag`, { method: 'POST' })) as { sstBytesBefore: number; sstBytesAfter: number };
    before += r.sstBytesBefore;
    after += r.sstBytesAfter;
  }
  return { 'SST MiB before': before / 2 ** 20, 'SST MiB after': after / 2 ** 20 };
}

async function round(leader: string, members: string[], n: number): Promise<Row[]> {
  await put(leader, 0, KEYS, n + 1);
  const rows: Row[] = [];
  for (const op of OPS) {
    const work = op === 'hash' ? () => hashAll(leader, members) : op === 'defrag' ? () => defragAll(members) : () => new Promise<Row>((r) => setTimeout(() => r({}), 2000));
    const { result, seconds, probeMs } = await probed(leader, work);
    rows.push({ op: op as MaintenanceOp, round: n, seconds, 'probe p50 ms': percentile(probeMs, 50), 'probe p99 ms': percentile(probeMs, 99), 'probe max ms': Math.max(...probeMs), probes: probeMs.length, ...result });
  }
  return rows;
}

function summarize(samples: Row[]): Row[] {
  const med = (op: string, col: string) => median(samples.filter((s) => s.op === op && typeof s[col] === 'number').map((s) => s[col] as number));
  const rows: Row[] = OPS.map((op) => {
    const sst = (col: string) => (op === 'defrag' ? med(op, col) : '');
    return { op, seconds: med(op, 'seconds'), 'probe p50 ms': med(op, 'probe p50 ms'), 'probe p99 ms': med(op, 'probe p99 ms'), 'probe max ms': med(op, 'probe max ms'), 'SST MiB before': sst('SST MiB before'), 'SST MiB after': sst('SST MiB after') };
  });
  const idle = rows[0];
  for (const r of rows.slice(1)) rows.push({ op: `${r.op} / idle`, 'probe p50 ms': (r['probe p50 ms'] as number) / (idle['probe p50 ms'] as number), 'probe p99 ms': (r['probe p99 ms'] as number) / (idle['probe p99 ms'] as number) });
  return rows;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-maintenance-'));
  let procs: ChildProcess[] = [];
  try {
    const cluster = await startLocalCluster(dir);
    procs = cluster.procs;
    const leader = await findLeader(cluster.urls);
    await put(leader, 0, KEYS, 0);
    const samples: Row[] = [];
    for (let n = 0; n < ROUNDS; n++) samples.push(...(await round(leader, cluster.urls, n)));
    const rows = summarize(samples);
    printTable(`maintenance on a 3-node cluster holding ${KEYS.toLocaleString('en-US')} keys (all overwritten before each round); a probe writing one key at a time meanwhile; medians of ${ROUNDS} rounds`, rows);
    writeResults('maintenance', { rounds: ROUNDS, keys: KEYS, rows, samples });
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
