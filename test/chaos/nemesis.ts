/**
 * The nemesis: injects one fault at a time into a `ChaosCluster`, holds it, heals it, and
 * records a timeline. Faults:
 * - kill / kill-leader: kill -9 a random node or the leader, restart it later;
 * - pause: SIGSTOP the leader or a random node for longer than an election timeout, SIGCONT;
 * - partition-minority / partition-leader / partition-bridge: cut peer links so that a random
 *   minority, the leader alone, or two halves joined only through one bridge node are cut off;
 * - disk-fsync: restart a node so that its nth fdatasync fails — it must stop (exit 70, a
 *   `fatal` line), never carry on; then it restarts cleanly;
 * - disk-torn: restart a node so that its nth write group is half written and the process
 *   aborts, as a crash mid-write leaves the log; it must recover on restart;
 * - member-replace: remove a random member (the leader too) through another node's API — it
 *   must apply its removal and stop — then wipe its data and start it again with `--join`: it
 *   must come back as a learner, receive a snapshot and be promoted to voter;
 * - defrag: every live member defrags at once while the clients write (a full compaction, then a
 *   snapshot cut, with an entry of each member's own): each answers its report, or 503 when a
 *   snapshot install holds its engine.
 * Violations of those expectations are collected in `problems`.
 */
import { rmSync } from 'node:fs';
import { Agent } from 'node:http';
import type { Random } from '../../ts/raft/random';
import type { ChaosCluster, ChaosNode } from './cluster';
import { httpJson } from './workload';

export const FAULTS = ['kill', 'kill-leader', 'pause', 'partition-minority', 'partition-leader', 'partition-bridge', 'disk-fsync', 'disk-torn', 'member-replace', 'defrag'] as const;
export type Fault = (typeof FAULTS)[number];

export const NEMESIS_GROUPS: Record<string, readonly Fault[]> = {
  kill: ['kill', 'kill-leader'],
  pause: ['pause'],
  partition: ['partition-minority', 'partition-leader', 'partition-bridge'],
  disk: ['disk-fsync', 'disk-torn'],
  member: ['member-replace'],
  maintenance: ['defrag'],
  all: FAULTS,
};

/** `all`, `kill,partition`, or single faults like `disk-torn`. */
export function parseNemesis(spec: string): Fault[] {
  const out = new Set<Fault>();
  for (const part of spec.split(',').filter(Boolean)) {
    const group = NEMESIS_GROUPS[part];
    if (group) group.forEach((f) => out.add(f));
    else if ((FAULTS as readonly string[]).includes(part)) out.add(part as Fault);
    else throw new Error(`unknown nemesis ${JSON.stringify(part)}: use ${Object.keys(NEMESIS_GROUPS).join(', ')} or one of ${FAULTS.join(', ')}`);
  }
  if (out.size === 0) throw new Error('--nemesis names no faults');
  return [...out];
}

export interface TimelineEvent {
  /** Milliseconds since the run started. */
  at: number;
  fault: Fault | 'heal';
  action: string;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NemesisOptions {
  random: Random;
  now: () => number;
  /** How long a fault is held, in ms: [min, max). */
  holdMs: [number, number];
  /** Quiet time between faults, in ms: [min, max). */
  gapMs: [number, number];
}

export class Nemesis {
  readonly timeline: TimelineEvent[] = [];
  readonly problems: string[] = [];
  readonly counts = new Map<Fault, number>();

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly opts: NemesisOptions,
  ) {}

  /**
   * Injects faults drawn from `faults` until `untilMs` has passed and at least `minFaults` were
   * injected (a slow machine restarting nodes for disk faults may otherwise fit only two into
   * the time), then heals everything.
   */
  async run(faults: readonly Fault[], untilMs: number, minFaults = 0): Promise<void> {
    const { random, now } = this.opts;
    let injected = 0;
    while (now() < untilMs || injected < minFaults) {
      injected++;
      const fault = faults[random.intn(faults.length)];
      const hold = this.between(this.opts.holdMs);
      this.counts.set(fault, (this.counts.get(fault) ?? 0) + 1);
      try {
        await this.inject(fault, hold);
      } catch (err) {
        this.problems.push(`${fault}: ${(err as Error).message}`);
        this.note(fault, `error: ${(err as Error).message}`);
      }
      await delay(this.between(this.opts.gapMs));
    }
    await this.healAll();
  }

  /** Resumes paused nodes, heals every link and restarts dead nodes (without faults). */
  async healAll(): Promise<void> {
    this.cluster.healLinks();
    for (const n of this.cluster.nodes) n.resume();
    for (const n of this.cluster.nodes) {
      if (!n.alive) {
        this.note('heal', `restart n${n.id}`);
        await n.start();
      }
    }
    this.note('heal', 'all nodes running, all links healed');
  }

  private async inject(fault: Fault, holdMs: number): Promise<void> {
    const cluster = this.cluster;
    const ids = cluster.nodes.map((n) => n.id);
    switch (fault) {
      case 'kill':
      case 'kill-leader': {
        const target = fault === 'kill-leader' ? this.leaderOrRandom() : this.randomNode();
        this.note(fault, `kill -9 n${target.id}`);
        await target.kill();
        await delay(holdMs);
        this.note(fault, `restart n${target.id}`);
        await target.start();
        return;
      }
      case 'pause': {
        const target = this.opts.random.next() < 0.5 ? this.leaderOrRandom() : this.randomNode();
        this.note(fault, `SIGSTOP n${target.id} for ${holdMs} ms`);
        target.pause();
        await delay(holdMs);
        this.note(fault, `SIGCONT n${target.id}`);
        target.resume();
        return;
      }
      case 'partition-minority': {
        const shuffled = this.shuffle(ids);
        const minority = shuffled.slice(0, Math.floor((ids.length - 1) / 2));
        return this.partition(fault, minority, shuffled.slice(minority.length), holdMs);
      }
      case 'partition-leader': {
        const leader = this.leaderOrRandom().id;
        return this.partition(fault, [leader], ids.filter((i) => i !== leader), holdMs);
      }
      case 'partition-bridge': {
        const [bridge, ...rest] = this.shuffle(ids);
        const half = Math.ceil(rest.length / 2);
        this.note(fault, `n${bridge} bridges ${rest.slice(0, half).map((i) => `n${i}`).join(',')} | ${rest.slice(half).map((i) => `n${i}`).join(',')}`);
        return this.partition(fault, rest.slice(0, half), rest.slice(half), holdMs);
      }
      case 'disk-fsync':
        return this.diskFault(fault, 'failSyncAt', holdMs);
      case 'member-replace':
        return this.replaceMember(fault);
      case 'disk-torn':
        return this.diskFault(fault, 'tornWriteAt', holdMs);
      case 'defrag':
        return this.defragAll(fault);
    }
  }

  /** Every live member's defrag at once, through its own API. */
  private async defragAll(fault: Fault): Promise<void> {
    const targets = this.cluster.nodes.filter((n) => n.alive);
    this.note(fault, `defrag ${targets.map((n) => `n${n.id}`).join(',')}`);
    const agent = new Agent({ keepAlive: false });
    try {
      const answers = await Promise.all(targets.map((n) => httpJson(agent, n.clientPort, 'POST', '/v1/maintenance/defrag', undefined, 60_000)));
      for (const [i, res] of answers.entries()) {
        const id = targets[i].id;
        const body = res.body as { snapshotIndex?: number | null; error?: { code?: string } } | undefined;
        if (res.status === 200) this.note(fault, `n${id} defragged, snapshot ${String(body?.snapshotIndex)}`);
        else if (res.status === 503 && body?.error?.code === 'unavailable') this.note(fault, `n${id} is installing a snapshot: 503`);
        else this.problems.push(`defrag of n${id}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    } finally {
      agent.destroy();
    }
  }

  private async partition(fault: Fault, a: number[], b: number[], holdMs: number): Promise<void> {
    const names = (xs: number[]) => xs.map((i) => `n${i}`).join(',');
    this.note(fault, `cut ${names(a)} | ${names(b)} for ${holdMs} ms`);
    this.cluster.cutBetween(a, b);
    await delay(holdMs);
    this.cluster.healLinks();
    this.note(fault, 'links healed');
  }

  /**
   * Restarts a node with a WAL fault armed at a random near group, waits for it to hit the fault
   * (or the hold time to pass), checks how it died, and restarts it cleanly.
   */
  private async diskFault(fault: Fault, hook: 'failSyncAt' | 'tornWriteAt', holdMs: number): Promise<void> {
    const target = this.randomNode();
    const nth = 5 + this.opts.random.intn(60);
    await target.kill();
    this.note(fault, `restart n${target.id} with ${hook}=${nth}`);
    target.proc.spawn({ QKV_TEST_WAL_FAULTS: `${hook}=${nth}` });
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([target.proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), holdMs * 3)))]);
    clearTimeout(timer);
    if (!exited) {
      this.note(fault, `n${target.id} did not reach WAL group ${nth} in time; killing it`);
      await target.kill();
    } else if (hook === 'failSyncAt') {
      const fatal = target.proc.events.find((e) => e.event === 'fatal');
      this.note(fault, `n${target.id} stopped: exit ${exited.code ?? exited.signal}, ${fatal ? `${String(fatal.code)}: ${String(fatal.message)}` : 'no fatal line'}`);
      if (exited.code !== 70 || fatal?.code !== 'WAL_FSYNC_FAILED') {
        this.problems.push(`n${target.id} after a failed fdatasync: exit ${exited.code ?? exited.signal}, fatal line ${JSON.stringify(fatal)} (expected exit 70 with WAL_FSYNC_FAILED)`);
      }
    } else {
      this.note(fault, `n${target.id} crashed mid-write: ${exited.signal ?? `exit ${exited.code}`}`);
      if (exited.signal !== 'SIGABRT') this.problems.push(`n${target.id} with a torn write: ended by ${exited.signal ?? `exit ${exited.code}`}, expected SIGABRT`);
    }
    this.note(fault, `restart n${target.id} cleanly`);
    await target.start();
  }

  /**
   * Removes a random member through another live node (retrying while the outcome is unknown
   * or the cluster is busy), checks that it stopped itself, then brings it back empty with
   * `--join` and waits for its promotion.
   */
  private async replaceMember(fault: Fault): Promise<void> {
    const target = this.randomNode();
    const via = this.shuffle(this.cluster.nodes.filter((n) => n !== target && n.alive).map((n) => n.id)).map((id) => this.cluster.node(id))[0];
    const stepMs = 250;
    const deadline = this.opts.now() + 20_000;
    this.note(fault, `remove n${target.id} through n${via.id}`);
    const agent = new Agent({ keepAlive: false });
    try {
      for (;;) {
        const res = await httpJson(agent, via.clientPort, 'DELETE', `/v1/cluster/members/n${target.id}`, undefined, 10_000).catch((err: Error & { code?: string }) => ({ status: 0, body: { error: { code: err.code } } }));
        const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
        // 404 after an unknown outcome (504, dropped connection): the earlier try went through.
        if (res.status === 200 || code === 'unknown_member') break;
        if (![0, 409, 503, 504].includes(res.status) || (res.status === 409 && code !== 'membership_change_pending')) {
          throw new Error(`removing n${target.id}: ${res.status} ${JSON.stringify(res.body)}`);
        }
        if (this.opts.now() > deadline) throw new Error(`removing n${target.id} did not succeed within 20 s (last: ${res.status} ${code})`);
        await delay(stepMs);
      }
    } finally {
      agent.destroy();
    }
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([target.proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 10_000)))]);
    clearTimeout(timer);
    if (!exited) {
      this.problems.push(`n${target.id} did not stop within 10 s of its removal`);
      await target.kill();
    } else {
      this.note(fault, `n${target.id} stopped: exit ${exited.code ?? exited.signal}`);
      if (exited.code !== 0 || !target.proc.events.some((e) => e.event === 'removed')) this.problems.push(`n${target.id} after its removal: exit ${exited.code ?? exited.signal}, expected exit 0 after a "removed" line`);
    }
    // Back as a new, empty node: its data is gone, it joins through a member.
    rmSync(target.dataDir, { recursive: true, force: true });
    target.joinThrough(via.clientPort);
    this.note(fault, `n${target.id} wiped, rejoining through n${via.id}`);
    await target.start();
    const promoted = await Promise.race([target.proc.until((e) => e.event === 'promoted'), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 30_000)))]);
    clearTimeout(timer);
    if (!promoted) throw new Error(`n${target.id} was not promoted to voter within 30 s of rejoining`);
    this.note(fault, `n${target.id} rejoined and promoted`);
  }

  private leaderOrRandom(): ChaosNode {
    return this.cluster.claimedLeader() ?? this.randomNode();
  }

  private randomNode(): ChaosNode {
    return this.cluster.nodes[this.opts.random.intn(this.cluster.nodes.length)];
  }

  private shuffle(xs: number[]): number[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.opts.random.intn(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  private between([lo, hi]: [number, number]): number {
    return Math.round(lo + this.opts.random.next() * (hi - lo));
  }

  private note(fault: Fault | 'heal', action: string): void {
    this.timeline.push({ at: Math.round(this.opts.now()), fault, action });
  }
}
