/**
 * `npm run chaos -- --time 60 --nemesis all [--seed S] [--nodes 3|5] [--clients 10] [--keys 8]
 * [--op-timeout MS] [--dir DIR]`: one chaos run against a real cluster. Prints the fault timeline as it happens,
 * then the history file, operation counts, per-key verdicts and the overall verdict.
 * Exit status: 0 valid, 1 invalid, 3 unknown (the checker's search budget ran out), 2 usage.
 */
import { parseArgs } from 'node:util';
import { parseNemesis } from './nemesis';
import { runChaos } from './runner';

const USAGE = 'usage: npm run chaos -- [--time SECONDS] [--nemesis all|kill|pause|partition|disk|member|maintenance|FAULT,...] [--seed N] [--nodes 3|5] [--clients N] [--keys N] [--op-timeout MS] [--dir DIR]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      time: { type: 'string', default: '60' },
      nemesis: { type: 'string', default: 'all' },
      seed: { type: 'string' },
      nodes: { type: 'string', default: '3' },
      clients: { type: 'string', default: '10' },
      keys: { type: 'string', default: '8' },
      'op-timeout': { type: 'string', default: '1500' },
      dir: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}\n${USAGE}`);
    return n;
  };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : num('seed', values.seed, 0);
  const faults = parseNemesis(values.nemesis!);
  console.log(`chaos: seed ${seed}, ${values.time} s of ${faults.join(', ')}`);
  const res = await runChaos({
    seed,
    timeS: num('time', values.time!, 1),
    faults,
    nodes: num('nodes', values.nodes!, 3),
    clients: num('clients', values.clients!, 1),
    keys: num('keys', values.keys!, 1),
    opTimeoutMs: num('op-timeout', values['op-timeout']!, 1),
    dir: values.dir,
    log: (line) => console.log(`  ${line}`),
  });
  const o = res.ops;
  console.log(`history: ${res.historyPath}`);
  console.log(`operations: ${o.total} (${o.reads} reads, ${o.writes} writes, ${o.cas} cas) — ok ${o.ok}, fail ${o.fail}, info ${o.info}`);
  console.log(`faults: ${Object.entries(res.faults).map(([f, n]) => `${f}×${n}`).join(', ') || 'none'}`);
  console.log(`snapshots: ${res.snapshots.created} taken, ${res.snapshots.installed} installed by InstallSnapshot`);
  for (const k of res.keys) {
    const extra = k.result.verdict === 'not-linearizable' ? ` — stuck after ${k.result.linearizedMax} ops ; pending: history lines ${k.result.stuckAt?.join(', ')}` : '';
    console.log(`  ${k.key}: ${k.ops} ops, ${k.checked} checked, ${k.result.verdict} (${k.result.steps} steps)${extra}`);
  }
  for (const p of res.problems) console.log(`problem: ${p}`);
  console.log(`verdict: ${res.verdict} in ${res.durationS} s (seed ${seed}; replay the schedule with --seed ${seed})`);
  if (res.verdict !== 'valid') console.log(`kept: history, node logs and data under ${res.runDir}`);
  return res.verdict === 'valid' ? 0 : res.verdict === 'invalid' ? 1 : 3;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(2);
  },
);
