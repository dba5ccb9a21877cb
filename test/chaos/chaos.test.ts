/**
 * The bounded chaos set CI runs (about three minutes): each nemesis on its own, then all mixed,
 * against a real 3-node cluster with 10 clients. A run passes only if every key's history is
 * linearizable, the cluster recovers after healing, every node serves every key and all nodes
 * hold the same data. A failing run keeps its history and node logs (the path is logged).
 * Longer runs: `npm run chaos -- --time 300 --nemesis all`.
 */
import { rmSync } from 'node:fs';
import test from 'ava';
import { liveChildren } from '../cluster/procs';
import { parseNemesis } from './nemesis';
import { type ChaosResult, runChaos } from './runner';

const CASES: { nemesis: string; seconds: number; seed: number; nodeArgs?: string[] }[] = [
  { nemesis: 'kill', seconds: 20, seed: 11 },
  { nemesis: 'pause', seconds: 20, seed: 12 },
  { nemesis: 'partition', seconds: 20, seed: 13 },
  { nemesis: 'disk', seconds: 20, seed: 14 },
  { nemesis: 'member', seconds: 20, seed: 16 },
  { nemesis: 'maintenance', seconds: 15, seed: 17 },
  { nemesis: 'all', seconds: 40, seed: 15 },
  // Lease reads: a paused leader wakes up believing it leads, a partitioned one keeps leading its
  // side for a while; neither may answer a read from a lease that a new leader has outlived.
  { nemesis: 'pause', seconds: 20, seed: 21, nodeArgs: ['--read-lease', 'on'] },
  { nemesis: 'partition', seconds: 20, seed: 22, nodeArgs: ['--read-lease', 'on'] },
];

function summary(r: ChaosResult): string {
  const o = r.ops;
  return `${o.total} ops (ok ${o.ok}, fail ${o.fail}, info ${o.info}); faults ${JSON.stringify(r.faults)}; snapshots ${JSON.stringify(r.snapshots)}; verdict ${r.verdict}`;
}

// Each run shuts its cluster down; this is the backstop that no node outlives the file (a
// leftover child keeps the worker from exiting). It counts as a failure, not a cleanup.
test.after.always('no node process outlives the suite', () => {
  const left = [...liveChildren];
  for (const c of left) c.kill('SIGKILL');
  if (left.length > 0) throw new Error(`${left.length} node process(es) were still running after the chaos runs: pids ${left.map((c) => c.pid).join(', ')}`);
});

for (const c of CASES) {
  test.serial(`chaos: ${c.nemesis} for ${c.seconds} s keeps every history linearizable (seed ${c.seed}${c.nodeArgs ? `, ${c.nodeArgs.join(' ')}` : ''})`, async (t) => {
    t.timeout((c.seconds + 120) * 1000);
    const res = await runChaos({ seed: c.seed, timeS: c.seconds, faults: parseNemesis(c.nemesis), minFaults: 3, minOkOps: 500, nodes: 3, nodeArgs: c.nodeArgs, clients: 10, keys: 8 });
    t.log(summary(res));
    if (res.verdict !== 'valid') {
      t.log(`kept: ${res.runDir}`);
      for (const e of res.timeline) t.log(`${(e.at / 1000).toFixed(1)}s ${e.fault}: ${e.action}`);
    }
    t.deepEqual(res.problems, []);
    for (const k of res.keys) t.is(k.result.verdict, 'linearizable', `${k.key}: ${JSON.stringify(k.result)}`);
    // The run did what it claims: faults were injected and the store answered under them.
    t.true(Object.values(res.faults).reduce((a, b) => a + b, 0) >= 3, 'at least three faults');
    t.true(res.ops.ok >= 500, 'at least 500 acknowledged operations');
    t.true(res.keys.every((k) => k.checked > 0));
    if (res.verdict === 'valid') rmSync(res.runDir, { recursive: true, force: true });
  });
}
