/**
 * `npm run bench:overload`: where adaptive throttling helps and where it cannot. A 3-node
 * cluster takes 3 s warm-up writes at a steady rate, then open-loop writes (pipelined HTTP/1.1,
 * 1 s deadline) at each rate of QKV_OVERLOAD_RATES for 4 s, throttling off and on (separate
 * clusters, in turn, QKV_OVERLOAD_ROUNDS rounds, medians). Goodput counts answers within the
 * deadline; p99 is over every acknowledged write. JSON: bench/results/overload.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arrivals, OpenLoop } from './lib/open_loop';
import { findLeader, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, type Row, writeResults } from './lib/report';
import { windowStats } from './lib/spike_stats';

const RATES = (process.env.QKV_OVERLOAD_RATES ?? '3000,6000,9000,12000').split(',').map(Number);
const ROUNDS = Number(process.env.QKV_OVERLOAD_ROUNDS ?? 2);
const WARM_RATE = 2000;

async function measure(mode: 'off' | 'on', dir: string): Promise<Row[]> {
  const { procs, urls } = await startLocalCluster(dir, ['--throttle', mode]);
  const rows: Row[] = [];
  try {
    const leader = new URL(await findLeader(urls));
    const loop = await OpenLoop.open(leader.hostname, Number(leader.port), 1000, 256);
    // The monitor learns its baselines at a load the cluster carries easily.
    await loop.run(arrivals([{ fromMs: 0, toMs: 3000, rate: WARM_RATE }], 1), 'warm', 3000);
    for (const rate of RATES) {
      const r = await loop.run(arrivals([{ fromMs: 0, toMs: 4000, rate }], rate), `r${rate}`, 4000);
      const w = windowStats(r.bins, 1000, 4000);
      rows.push({ throttle: mode, 'offered/s': rate, 'goodput/s': w.goodputPerS, 'p50 ms': w.p50Ms, 'p99 ms': w.p99Ms, 'shed %': w.shedFraction * 100, 'late %': w.lateFraction * 100 });
      // Back to the warm rate between steps, so each starts from a calm cluster.
      await loop.run(arrivals([{ fromMs: 0, toMs: 3000, rate: WARM_RATE }], rate + 1), `calm${rate}`, 3000);
    }
    loop.close();
  } finally {
    await stopAll(procs);
  }
  return rows;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-overload-'));
  const rounds: Row[][] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['off', 'on'] as const) rounds.push(await measure(mode, join(dir, `${mode}${round}`)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: Row[] = [];
  for (const rate of RATES) {
    for (const mode of ['off', 'on']) {
      const same = rounds.flat().filter((r) => r.throttle === mode && r['offered/s'] === rate);
      const med = (k: string) => median(same.map((r) => r[k] as number));
      rows.push({ throttle: mode, 'offered/s': rate, 'goodput/s': med('goodput/s'), 'p50 ms': med('p50 ms'), 'p99 ms': med('p99 ms'), 'shed %': med('shed %'), 'late %': med('late %') });
    }
  }
  printTable(`Open-loop writes against 3 nodes, throttling off and on, medians of ${ROUNDS} rounds`, rows);
  writeResults('overload', { rates: RATES, rounds: ROUNDS, warmRate: WARM_RATE, rows, eachRound: rounds });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
