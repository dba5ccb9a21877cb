/**
 * CI's share of the simulator: 500 seeds of the mixed fault schedule (drops, delays, reordering,
 * duplicates, partitions, crashes losing unpersisted writes), every safety checker after every
 * step, and liveness after healing. `npm run sim -- --seeds N --from S` runs more.
 */
import test from 'ava';
import { runSimulation } from './simulation';

const SEEDS_PER_TEST = 100;
const FIRST_SEED = 1;

for (let chunk = 0; chunk < 5; chunk++) {
  const from = FIRST_SEED + chunk * SEEDS_PER_TEST;
  test(`seeds ${from}..${from + SEEDS_PER_TEST - 1}: safety holds throughout and the healed cluster is live`, (t) => {
    let reads = 0;
    let commits = 0;
    for (let seed = from; seed < from + SEEDS_PER_TEST; seed++) {
      // A failure throws with its seed and the command that replays it.
      const r = runSimulation({ seed });
      reads += r.readsChecked;
      commits += r.committed;
    }
    // The runs did real work: the checks were not vacuous.
    t.true(commits > SEEDS_PER_TEST * 50, `committed ${commits}`);
    t.true(reads > SEEDS_PER_TEST * 20, `checked ${reads} reads`);
  });
}

// The real node's driver pipelines its writes: the next Ready is taken while earlier ones are
// being made durable. Slower writes than above, so several are in flight at once.
test('pipelined persistence, seeds 2001..2300: safety holds throughout and the healed cluster is live', (t) => {
  let reads = 0;
  let commits = 0;
  for (let seed = 2001; seed <= 2300; seed++) {
    const r = runSimulation({ seed, writesInFlightMax: 8, persistTicksMax: 4 });
    reads += r.readsChecked;
    commits += r.committed;
  }
  t.true(commits > 300 * 50, `committed ${commits}`);
  t.true(reads > 300 * 20, `checked ${reads} reads`);
});

test('pipelined lease reads, seeds 3001..3100: no read is stale', (t) => {
  let reads = 0;
  for (let seed = 3001; seed <= 3100; seed++) reads += runSimulation({ seed, leaseReads: true, writesInFlightMax: 8, persistTicksMax: 4 }).readsChecked;
  t.true(reads > 100 * 20, `checked ${reads} reads`);
});

test('lease reads, seeds 1001..1100: no read is stale, and restarted voters fence their votes', (t) => {
  let reads = 0;
  for (let seed = 1001; seed <= 1100; seed++) reads += runSimulation({ seed, leaseReads: true }).readsChecked;
  t.true(reads > 100 * 20, `checked ${reads} reads`);
});

test('a seed replays exactly', (t) => {
  t.deepEqual(runSimulation({ seed: 4242 }), runSimulation({ seed: 4242 }));
  t.notDeepEqual(runSimulation({ seed: 4242 }), runSimulation({ seed: 4243 }));
});
