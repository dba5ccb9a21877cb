/**
 * `npm run sim -- --seeds N --from S [--ticks T]`: runs seeds S..S+N-1 of the mixed fault schedule
 * and stops at the first failure, printing its seed and the command that replays it.
 */
import { parseArgs } from 'node:util';
import { runSimulation, SimulationFailure } from './simulation';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '500' },
    from: { type: 'string', default: '1' },
    ticks: { type: 'string', default: '600' },
  },
});
const seeds = Number(values.seeds);
const from = Number(values.from);
const faultTicks = Number(values.ticks);
if (!Number.isInteger(seeds) || seeds <= 0 || !Number.isInteger(from) || !Number.isInteger(faultTicks) || faultTicks <= 0) {
  console.error('usage: npm run sim -- --seeds N --from S [--ticks T]  (positive integers)');
  process.exit(2);
}

const started = process.hrtime.bigint();
const totals = { messages: 0, committed: 0, readsChecked: 0, writesAcked: 0, crashes: 0, partitions: 0, transfers: 0, confChanges: 0, snapshotsInstalled: 0, leaders: 0, checks: 0 };
for (let seed = from; seed < from + seeds; seed++) {
  try {
    const r = runSimulation({ seed, faultTicks });
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r[k];
  } catch (err) {
    if (err instanceof SimulationFailure) {
      console.error(err.message);
      console.error((err.cause as Error).stack);
      process.exit(1);
    }
    throw err;
  }
  if ((seed - from + 1) % 100 === 0) console.log(`${seed - from + 1}/${seeds} seeds ok`);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`${seeds} seeds (${from}..${from + seeds - 1}) passed in ${seconds.toFixed(1)} s:`, totals);
