/**
 * `npm run bench:stall-floor`: how fast an admitted write can be during bench:spike's disk stall
 * (every fdatasync on every node 20 ms slower) whatever admission does. Throttling only lowers
 * the load the cluster carries; this measures the stall's write latency, throttling off, at the
 * spike bench's steady rate (60% of the measured capacity) and at loads admission could cut it
 * to (10% of it, and a trickle of 50 writes/s), open loop on a 3-node cluster (compiled: `npm
 * install` first). Rates take turns for `ROUNDS` rounds with the stall held throughout; medians
 * of p50/p99 over the rounds. The best p99 cut admission could buy during the stall is 1 − p99 at
 * the trickle / p99 at the steady rate — the figure to hold against bench:spike's ≥ 70% target.
 * JSON: bench/results/stall_floor.json, and a printed table.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arrivals, BIN_MS, OpenLoop } from './lib/open_loop';
import { findLeader, MAIN, startLocalCluster, stopAll } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';
import { measureCapacity, setAll } from './lib/spike_cluster';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
/** Each rate's load; writes due in its first `WARM_MS` (the stall's queue filling) are not counted. */
const LOAD_MS = 6000;
const WARM_MS = 1000;
const DEADLINE_MS = 1000;
/** bench:spike's stall. */
const STALL_DELAY_MS = 20;
const TRICKLE_PER_S = 50;

interface Level {
  name: string;
  rate: number;
  p50: number[];
  p99: number[];
  acked: number;
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  process.env.QKV_TEST_WAL_FAULTS = 'stall';
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-stall-'));
  const { procs, urls } = await startLocalCluster(dir);
  try {
    const leader = await findLeader(urls);
    await setAll(urls, '/v1/monitor/throttle', { enabled: false });
    const capacity = await measureCapacity(leader);
    const steady = Math.round(capacity * 0.6);
    const levels: Level[] = [
      { name: "bench:spike's steady rate (60% of capacity)", rate: steady, p50: [], p99: [], acked: 0 },
      { name: '10% of capacity', rate: Math.round(capacity * 0.1), p50: [], p99: [], acked: 0 },
      { name: 'a trickle', rate: TRICKLE_PER_S, p50: [], p99: [], acked: 0 },
    ];
    const u = new URL(leader);
    const loop = await OpenLoop.open(u.hostname, Number(u.port), DEADLINE_MS, 256);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Held for the whole round (the test route's limit is 60 s: renewed each round).
        await setAll(urls, '/v1/test/wal-stall', { delayMs: STALL_DELAY_MS, durationMs: levels.length * (LOAD_MS + 2 * DEADLINE_MS) + 5000 });
        const order = round % 2 === 0 ? levels : [...levels].reverse();
        for (const level of order) {
          const load = await loop.run(arrivals([{ fromMs: 0, toMs: LOAD_MS, rate: level.rate }], 100 + round), `stall-${round}-${level.rate}`, LOAD_MS);
          const latencies = load.bins.slice(WARM_MS / BIN_MS).flatMap((b) => b.latencies);
          level.p50.push(percentile(latencies, 50));
          level.p99.push(percentile(latencies, 99));
          level.acked += load.acked.length;
          console.error(`  round ${round + 1}, ${level.rate} writes/s under the stall: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
        }
      }
    } finally {
      loop.close();
    }
    report(capacity, levels);
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(capacity: number, levels: Level[]): void {
  const steadyP99 = median(levels[0].p99);
  const rows: Row[] = levels.map((l) => ({
    load: `${l.name}: ${l.rate} writes/s`,
    'p50 ms': Number(median(l.p50).toFixed(1)),
    'p99 ms': Number(median(l.p99).toFixed(1)),
    'p99 cut vs steady': `${(100 * (1 - median(l.p99) / steadyP99)).toFixed(0)}%`,
    'each round p99 ms': l.p99.map((x) => x.toFixed(1)).join(' / '),
    acked: l.acked,
  }));
  const bestCut = 1 - median(levels[levels.length - 1].p99) / steadyP99;
  printTable(`writes during a disk stall (every fdatasync +${STALL_DELAY_MS} ms, all nodes), throttling off; capacity ${Math.round(capacity)} writes/s`, rows);
  console.log(`\nthe most any admission policy could cut the stall's p99 by: ${(100 * bestCut).toFixed(0)}% (bench:spike's target: 70%)`);
  writeResults('stall_floor', { capacity, stallDelayMs: STALL_DELAY_MS, rounds: ROUNDS, loadMs: LOAD_MS, warmMs: WARM_MS, bestCut, rows });
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
