/**
 * One chaos run: start a real cluster behind link proxies, run the workload while the nemesis
 * injects faults, heal, read every key from every node, check that all nodes hold the same
 * state, and decide the history with the linearizability checker (per key).
 *
 * Artifacts in the run directory: `history.jsonl` (one operation per line), `result.json`,
 * `logs/n*.log` (node output across restarts), `data/` (node data; removed after a valid run).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../ts/raft/random';
import { ChaosCluster } from './cluster';
import { type CheckResult, checkOperations, type Operation, pruneRegisterHistory, type RegisterInput, type RegisterOutput, registerModel } from './linearizability';
import { type Fault, Nemesis, type TimelineEvent } from './nemesis';
import { type HistoryOp, httpJson, keyName, Workload } from './workload';

export interface ChaosOptions {
  seed: number;
  /** Seconds of faults under load. */
  timeS: number;
  faults: readonly Fault[];
  /** Keep injecting past `timeS` until this many faults were injected (default 0). */
  minFaults?: number;
  /**
   * After healing, keep the load on until this many operations were acknowledged in all (at most
   * `recoverMs` longer): on a busy machine a fixed time may leave too little history to check.
   */
  minOkOps?: number;
  nodes: number;
  /** Flags for every node (e.g. `--read-lease on`). */
  nodeArgs?: string[];
  clients: number;
  keys: number;
  /** Where to keep artifacts; a fresh temporary directory when absent. */
  dir?: string;
  opTimeoutMs?: number;
  thinkMs?: number;
  /** Healing must bring back one agreed leader within this (liveness). */
  recoverMs?: number;
  /** Progress lines (the fault timeline as it happens). */
  log?: (line: string) => void;
}

export interface KeyVerdict {
  key: string;
  ops: number;
  checked: number;
  result: CheckResult;
}

export interface ChaosResult {
  verdict: 'valid' | 'invalid' | 'unknown';
  seed: number;
  runDir: string;
  historyPath: string;
  ops: { total: number; ok: number; fail: number; info: number; reads: number; writes: number; cas: number };
  faults: Record<string, number>;
  /** Snapshots taken and installed (InstallSnapshot) across all nodes during the run. */
  snapshots: { created: number; installed: number };
  timeline: TimelineEvent[];
  keys: KeyVerdict[];
  /** Everything besides linearizability that went wrong: liveness, divergence, bad answers. */
  problems: string[];
  durationS: number;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The register operations of one key, as the checker takes them (known failures dropped).
 * Each keeps its 1-based line in history.jsonl as its id.
 */
export function toRegisterOps(history: readonly { op: HistoryOp; line: number }[]): Operation<RegisterInput, RegisterOutput>[] {
  const out: Operation<RegisterInput, RegisterOutput>[] = [];
  for (const { op, line } of history) {
    if (op.outcome === 'fail') continue;
    const ret = op.outcome === 'info' ? Infinity : op.ret;
    const known = op.outcome === 'ok';
    const input: RegisterInput = op.kind === 'read' ? { kind: 'read' } : op.kind === 'write' ? { kind: 'write', value: op.value! } : { kind: 'cas', from: op.from!, to: op.value! };
    const output: RegisterOutput | undefined = !known ? undefined : op.kind === 'read' ? { value: op.read ?? null } : op.kind === 'write' ? {} : { succeeded: true };
    out.push({ input, output, call: op.call, ret, id: line });
  }
  return out;
}

export function checkHistory(history: readonly HistoryOp[]): KeyVerdict[] {
  const byKey = new Map<string, { op: HistoryOp; line: number }[]>();
  history.forEach((op, i) => {
    const list = byKey.get(op.key) ?? [];
    list.push({ op, line: i + 1 });
    byKey.set(op.key, list);
  });
  return [...byKey].sort(([a], [b]) => a.localeCompare(b)).map(([key, ops]) => {
    const checked = pruneRegisterHistory(toRegisterOps(ops));
    return { key, ops: ops.length, checked: checked.length, result: checkOperations(registerModel, checked) };
  });
}

interface FaultPhase {
  opts: ChaosOptions;
  cluster: ChaosCluster;
  nemesis: Nemesis;
  workload: Workload;
  recoverMs: number;
  now: () => number;
  log: (line: string) => void;
  problems: string[];
}

/**
 * The workload under the nemesis until `timeS`, then healed: the cluster must elect a leader
 * every node follows (liveness) and serve `minOkOps` successful operations before the
 * workload stops. The nemesis' timeline is logged as it happens.
 */
async function underFaults({ opts, cluster, nemesis, workload, recoverMs, now, log, problems }: FaultPhase): Promise<void> {
  workload.start();
  const reported = { n: 0 };
  const report = () => {
    for (const e of nemesis.timeline.slice(reported.n)) log(`${(e.at / 1000).toFixed(1)}s ${e.fault}: ${e.action}`);
    reported.n = nemesis.timeline.length;
  };
  const progress = setInterval(report, 250);
  try {
    await nemesis.run(opts.faults, now() + opts.timeS * 1000, opts.minFaults ?? 0);
    await withDeadline(cluster.converged(), recoverMs, 'recovery after healing').catch((err: Error) => problems.push(err.message));
    // A short quiet period with every node up, so the history shows the healed cluster working.
    await delay(1000);
    const okOps = () => workload.history.reduce((n, o) => n + (o.outcome === 'ok' ? 1 : 0), 0);
    for (const until = now() + recoverMs; okOps() < (opts.minOkOps ?? 0) && now() < until; ) await delay(100);
    await workload.stop();
  } finally {
    clearInterval(progress);
    report();
  }
  problems.push(...nemesis.problems);
}

function countOps(h: readonly HistoryOp[]): ChaosResult['ops'] {
  const count = (pick: (o: HistoryOp) => boolean) => h.filter(pick).length;
  return {
    total: h.length,
    ok: count((o) => o.outcome === 'ok'),
    fail: count((o) => o.outcome === 'fail'),
    info: count((o) => o.outcome === 'info'),
    reads: count((o) => o.kind === 'read'),
    writes: count((o) => o.kind === 'write'),
    cas: count((o) => o.kind === 'cas'),
  };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const runDir = opts.dir ?? mkdtempSync(join(tmpdir(), 'quorumkv-chaos-'));
  mkdirSync(runDir, { recursive: true });
  const historyPath = join(runDir, 'history.jsonl');
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const random = mulberry32(opts.seed);
  const problems: string[] = [];
  const recoverMs = opts.recoverMs ?? 30_000;

  const cluster = await ChaosCluster.create(runDir, opts.nodes, undefined, opts.nodeArgs);
  const nemesis = new Nemesis(cluster, { random: mulberry32(opts.seed ^ 0x5eed), now, holdMs: [1000, 4000], gapMs: [500, 2000] });
  const workload = new Workload({
    clients: opts.clients,
    keys: opts.keys,
    ports: cluster.nodes.map((n) => n.clientPort),
    random,
    opTimeoutMs: opts.opTimeoutMs ?? 1500,
    thinkMs: opts.thinkMs ?? 20,
    now,
  });
  try {
    await cluster.startAll();
    await withDeadline(cluster.converged(), recoverMs, 'a first leader');
    log(`cluster of ${opts.nodes} up in ${Math.round(now())} ms: ${runDir}`);

    await underFaults({ opts, cluster, nemesis, workload, recoverMs, now, log, problems });

    await finalReads(cluster, workload, opts.keys, recoverMs, problems);
    await compareStates(cluster, problems);
  } catch (err) {
    problems.push(`run aborted: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await workload.stop().catch(() => undefined);
    workload.close();
    await cluster.shutdown();
  }

  for (const op of workload.unexpected) problems.push(`unexpected answer ${op.error} to ${op.kind} ${op.key} on n${op.node}`);
  writeFileSync(historyPath, workload.history.map((op) => JSON.stringify(op)).join('\n') + '\n');
  const keys = checkHistory(workload.history);
  const result: ChaosResult = {
    verdict: problems.length > 0 || keys.some((k) => k.result.verdict === 'not-linearizable') ? 'invalid' : keys.some((k) => k.result.verdict === 'unknown') ? 'unknown' : 'valid',
    seed: opts.seed,
    runDir,
    historyPath,
    ops: countOps(workload.history),
    faults: Object.fromEntries(nemesis.counts),
    snapshots: {
      created: cluster.nodes.reduce((n, x) => n + (x.snapshotEvents.get('created') ?? 0), 0),
      installed: cluster.nodes.reduce((n, x) => n + (x.snapshotEvents.get('installed') ?? 0), 0),
    },
    timeline: nemesis.timeline,
    keys,
    problems,
    durationS: Math.round(now() / 100) / 10,
  };
  writeFileSync(join(runDir, 'result.json'), JSON.stringify(result, null, 2));
  if (result.verdict === 'valid') rmSync(join(runDir, 'data'), { recursive: true, force: true });
  return result;
}

/**
 * After healing: every node answers a linearizable read of every key (recorded in the history,
 * so an acknowledged write that vanished makes it non-linearizable). Retries only what is known
 * not to have been served (503, refused) or timed out, within `recoverMs`.
 */
async function finalReads(cluster: ChaosCluster, workload: Workload, keys: number, recoverMs: number, problems: string[]): Promise<void> {
  const deadline = performance.now() + recoverMs;
  for (const node of cluster.nodes) {
    for (let k = 0; k < keys; k++) {
      for (;;) {
        const op = await workload.invoke(0, node.id, keyName(k), 'read', 0);
        if (op.outcome === 'ok') break;
        if (performance.now() > deadline) {
          problems.push(`n${node.id} could not serve a linearizable read of ${keyName(k)} after healing (${op.error})`);
          return;
        }
        await delay(100);
      }
    }
  }
}

/** Every node's data, read linearizably (so each has applied everything): must be identical. */
async function compareStates(cluster: ChaosCluster, problems: string[]): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  try {
    const states: string[] = [];
    for (const node of cluster.nodes) {
      const res = await httpJson(agent, node.clientPort, 'GET', '/v1/kv?prefix=chaos-&limit=1000', undefined, 10_000);
      if (res.status !== 200) {
        problems.push(`n${node.id} scan answered ${res.status} ${JSON.stringify(res.body)}`);
        return;
      }
      states.push(JSON.stringify((res.body as { items: unknown[] }).items));
    }
    states.forEach((s, i) => {
      if (s !== states[0]) problems.push(`n${i + 1} holds different data than n1 after healing: ${s.slice(0, 300)} vs ${states[0].slice(0, 300)}`);
    });
    await compareDigests(cluster, agent, problems);
  } finally {
    agent.destroy();
  }
}

/**
 * Every node's digest of its whole state (keys the workload never reads too: idempotency
 * answers, sessions, the membership record) as of one hash entry: must be identical.
 */
async function compareDigests(cluster: ChaosCluster, agent: Agent, problems: string[]): Promise<void> {
  const hashed = await httpJson(agent, cluster.nodes[0].clientPort, 'POST', '/v1/maintenance/hash', undefined, 10_000);
  const index = (hashed.body as { index?: number }).index;
  if (hashed.status !== 200 || index === undefined) {
    problems.push(`a hash entry through n1 answered ${hashed.status} ${JSON.stringify(hashed.body)}`);
    return;
  }
  const digests: string[] = [];
  for (const node of cluster.nodes) {
    for (let tries = 0; ; tries++) {
      const res = await httpJson(agent, node.clientPort, 'GET', `/v1/maintenance/hash?index=${index}`, undefined, 10_000);
      if (res.status === 200) {
        digests.push((res.body as { sha256: string }).sha256);
        break;
      }
      if (res.status !== 404 || tries >= 100) {
        problems.push(`n${node.id} has no digest of the state at hash entry ${index}: ${res.status} ${JSON.stringify(res.body)}`);
        return;
      }
      await delay(100);
    }
  }
  digests.forEach((d, i) => {
    if (d !== digests[0]) problems.push(`n${cluster.nodes[i].id}'s state at entry ${index} differs from n${cluster.nodes[0].id}'s: digest ${d} vs ${digests[0]}`);
  });
}
