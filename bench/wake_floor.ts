/**
 * `npm run bench:wake-floor`: this machine's wake-up floor, with nothing of quorumkv running — how
 * late an idle Node process runs after a precise sleep on the addon's pacer and after a Node
 * timer (bench/lib/wake_floor.ts, a process of its own per round), `ROUNDS` rounds of 3 s, medians.
 * Every latency target measured from a due time on this machine (a paced replay's schedule error,
 * an open-loop read's latency) includes at least one such wake-up. JSON:
 * bench/results/wake_floor.json, and a printed table.
 */
import { median, printTable, type Row, writeResults } from './lib/report';
import { type WakeFloor, wakeFloor } from './lib/wake_floor_run';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 5);

async function main(): Promise<void> {
  const rounds: WakeFloor[] = [];
  for (let round = 0; round < ROUNDS; round++) rounds.push(await wakeFloor(3000));
  const row = (what: 'pacer' | 'timer', name: string): Row => ({
    'woken by': name,
    'p50 ms': Number(median(rounds.map((r) => r[what].p50)).toFixed(3)),
    'p99 ms': Number(median(rounds.map((r) => r[what].p99)).toFixed(3)),
    'max ms': Number(Math.max(...rounds.map((r) => r[what].max)).toFixed(3)),
    'each round p99 ms': rounds.map((r) => r[what].p99.toFixed(2)).join(' / '),
  });
  const rows = [row('pacer', "the addon's pacer (a precise sleep)"), row('timer', 'a Node timer (whole ms)')];
  printTable(`an idle process's lateness after its due time (${ROUNDS} rounds of 3 s, 0.2–2 ms waits)`, rows);
  writeResults('wake_floor', { rounds: ROUNDS, rows, each: rounds });
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
