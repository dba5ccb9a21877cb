/**
 * One seeded run: N nodes, clients writing unique values and reading through ReadIndex, and a
 * mixed fault schedule (drops, delays, reordering, duplicates, symmetric and asymmetric
 * partitions, crashes that lose unpersisted writes, leadership transfers, snapshots with log
 * compaction so lagging followers catch up by InstallSnapshot). Then the network heals and liveness is
 * required: a leader within a bound, and every outstanding write committed within a bound.
 * Everything random comes from one PRNG seeded by `seed`, so a failure replays exactly.
 */
import { type ConfChange, ConfChangeType, type Entry, ProposalDroppedError, type Random, mulberry32 } from '../../ts/raft';
import { leaseDurationMs } from '../../ts/raft/lease';
import { SafetyChecker, Violation } from './checker';
import { RELIABLE, SimNetwork } from './network';
import { SimNode, decodeWrite, encodeConfChange, encodeWrite } from './node';
import { coreOf } from '../helpers/core';

export interface SimOptions {
  seed: number;
  /** Ticks with faults injected. */
  faultTicks?: number;
  /** After healing, ticks within which a leader must exist and every pending write commit. */
  livenessTicksMax?: number;
  nodes?: number;
  /** Lease reads (the clock: one unit per tick) instead of a heartbeat round per read. */
  leaseReads?: boolean;
  /** Writes in flight per node: 1 takes one Ready at a time, more pipeline them (the real node). */
  writesInFlightMax?: number;
  /** A write completes within 0..this many ticks (default 2). */
  persistTicksMax?: number;
}

export interface SimResult {
  seed: number;
  nodes: number;
  ticks: number;
  messages: number;
  committed: number;
  writesAcked: number;
  readsChecked: number;
  leaders: number;
  crashes: number;
  partitions: number;
  transfers: number;
  confChanges: number;
  snapshotsInstalled: number;
  checks: number;
}

interface PendingWrite {
  id: string;
  key: string;
  value: string;
  node: number;
  retryAt: number;
}

interface PendingRead {
  key: string;
  node: number;
  /** Index of the latest write to `key` acknowledged before the read began. */
  mustSeeIndex: number;
  index?: number;
  expiresAt: number;
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const ELECTION_TICKS = 20;
const HEARTBEAT_TICKS = 2;
const WRITE_RETRY_TICKS = 80;
const DROPPED_RETRY_TICKS = 10;
const READ_TIMEOUT_TICKS = 120;

export class SimulationFailure extends Error {
  constructor(readonly seed: number, readonly tick: number, cause: Error) {
    super(`seed ${seed} failed at tick ${tick}: ${cause.message}\n  replay: npm run sim -- --seeds 1 --from ${seed}`, { cause });
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  const sim = new Simulation(opts);
  try {
    return sim.run();
  } catch (err) {
    throw new SimulationFailure(opts.seed, sim.now, err as Error);
  }
}

class Simulation {
  now = 0;
  private readonly random: Random;
  private readonly net: SimNetwork;
  private readonly nodes: SimNode[];
  private readonly ids: number[];
  private readonly checker = new SafetyChecker();
  private readonly writes = new Map<string, PendingWrite>();
  private readonly reads = new Map<string, PendingRead>();
  /** Per key, the Raft index of the newest acknowledged write. */
  private readonly ackedIndex = new Map<string, number>();
  private nextOp = 0;
  private writesAcked = 0;
  private readsChecked = 0;
  private partitions = 0;
  private transfers = 0;
  private confChanges = 0;
  private readonly faultTicks: number;
  private readonly livenessTicksMax: number;

  private readonly seed: number;

  constructor(opts: SimOptions) {
    this.seed = opts.seed;
    this.random = mulberry32(opts.seed);
    this.faultTicks = opts.faultTicks ?? 600;
    this.livenessTicksMax = opts.livenessTicksMax ?? 40 * ELECTION_TICKS;
    const n = opts.nodes ?? (this.random.next() < 0.6 ? 3 : 5);
    this.ids = Array.from({ length: n }, (_, i) => i + 1);
    this.net = new SimNetwork(this.random);
    const hooks = {
      onReady: (node: SimNode, rd: Parameters<SafetyChecker['observeReady']>[1]) => this.checker.observeReady(node, rd),
      onSnapshot: (node: SimNode, snap: Parameters<SafetyChecker['observeSnapshot']>[1]) => this.checker.observeSnapshot(node, snap),
      onApply: (node: SimNode, e: Entry) => this.onApply(node, e),
      onReadState: (node: SimNode, ctx: string, index: number) => this.onReadState(node, ctx, index),
      send: (m: Parameters<SimNetwork['send']>[0]) => this.net.send(m, this.now),
    };
    // Half the seeds snapshot and compact often, so lagging followers need InstallSnapshot.
    const snapshotEntries = this.random.next() < 0.5 ? 20 + this.random.intn(40) : 0;
    const lease = opts.leaseReads ? { leaseReadMs: leaseDurationMs(1, ELECTION_TICKS), nowMs: () => this.now } : undefined;
    this.nodes = this.ids.map((id) => new SimNode(id, this.ids, this.random, hooks, opts.persistTicksMax ?? 2, ELECTION_TICKS, HEARTBEAT_TICKS, snapshotEntries, lease, opts.writesInFlightMax));
  }

  run(): SimResult {
    for (; this.now < this.faultTicks; this.now++) {
      this.injectFaults();
      this.step(true);
    }
    // Heal: every node up, every link open, a reliable network. Liveness must follow.
    this.net.heal();
    this.net.faults = { ...RELIABLE, delayTicksMax: 2 };
    for (const n of this.nodes) n.restart();
    const healedAt = this.now;
    // A fresh write after healing must commit too, not only the ones retried from the faults.
    this.propose();
    for (;;) {
      this.step(false);
      this.now++;
      // Nodes removed from the configuration are no longer followers of anyone: ignore them.
      const leader = this.nodes.find((n) => n.isLeader && this.members(n).every((o) => coreOf(o.raw!).lead === n.id));
      if (leader && this.writes.size === 0 && this.converged()) break;
      if (this.now - healedAt > this.livenessTicksMax) {
        const states = this.nodes.map((n) => {
          const st = n.raw!.status();
          return `n${n.id} ${st.state} term=${st.term} lead=${st.lead} commit=${st.commit} applied=${n.appliedIndex} last=${st.lastIndex}`;
        });
        const anyLeader = this.nodes.find((n) => n.isLeader);
        const progress = anyLeader
          ? [...coreOf(anyLeader.raw!).prs.progress].map(([id, pr]) => `n${id}:${pr.state} match=${pr.match} next=${pr.next}${pr.isLearner ? ' learner' : ''}${pr.recentActive ? '' : ' inactive'}`).join(', ')
          : 'no leader';
        throw new Violation(`liveness: ${this.livenessTicksMax} ticks after healing, leader=${leader?.id ?? 'none'}, ${this.writes.size} writes still pending; ${states.join('; ')}; leader's progress: ${progress}`);
      }
    }
    return {
      seed: this.seed,
      nodes: this.ids.length,
      ticks: this.now,
      messages: this.net.delivered,
      committed: this.checker.committedCount(),
      writesAcked: this.writesAcked,
      readsChecked: this.readsChecked,
      leaders: this.checker.leaders(),
      crashes: this.nodes.reduce((s, n) => s + n.crashes, 0),
      partitions: this.partitions,
      transfers: this.transfers,
      confChanges: this.confChanges,
      snapshotsInstalled: this.checker.snapshots,
      checks: this.checker.checks,
    };
  }

  /** Every member applied the same prefix up to the leader's commit index. */
  private converged(): boolean {
    const commit = Math.max(...this.nodes.map((n) => coreOf(n.raw!).log.committed));
    const leader = this.nodes.find((n) => n.isLeader);
    return leader !== undefined && this.members(leader).every((n) => n.appliedIndex === commit);
  }

  /** The nodes in `leader`'s configuration (voters and learners). */
  private members(leader: SimNode): SimNode[] {
    return this.nodes.filter((n) => coreOf(leader.raw!).prs.progress.has(n.id));
  }

  /**
   * A single-server membership change through the leader: remove a voter (keeping at least
   * two), add a node back as a learner or a voter, promote or remove a learner. The core
   * refuses a second change while one is pending (it becomes a no-op entry).
   */
  private changeMembership(): void {
    const leader = this.nodes.find((n) => n.isLeader);
    if (!leader) return;
    const prs = coreOf(leader.raw!).prs;
    const options: ConfChange[] = [];
    if (prs.voters.size > 2) for (const id of prs.voters) options.push({ type: ConfChangeType.RemoveNode, nodeId: id });
    for (const id of prs.learners) options.push({ type: ConfChangeType.AddNode, nodeId: id }, { type: ConfChangeType.RemoveNode, nodeId: id });
    for (const id of this.ids) {
      if (!prs.progress.has(id)) options.push({ type: ConfChangeType.AddLearnerNode, nodeId: id }, { type: ConfChangeType.AddNode, nodeId: id });
    }
    if (options.length === 0) return;
    try {
      leader.raw!.proposeConfChange(this.pick(options), encodeConfChange);
      this.confChanges++;
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  private step(withClients: boolean): void {
    for (const m of this.net.due(this.now)) this.nodes[m.to - 1].step(m);
    for (const r of this.net.snapshotReports.splice(0)) this.nodes[r.from - 1].raw?.reportSnapshot(r.to, r.ok);
    for (const n of this.nodes) n.tick();
    if (withClients) this.clients();
    this.retryWrites();
    this.expireReads();
    // Drive until quiet: completed writes may produce new Readies within the tick.
    for (let moved = true; moved; ) {
      moved = false;
      for (const n of this.nodes) if (n.drive(this.now)) moved = true;
    }
    this.checker.observeLeaders(this.nodes);
  }

  private live(): SimNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  private pick<T>(xs: T[]): T {
    return xs[this.random.intn(xs.length)];
  }

  private clients(): void {
    const live = this.live();
    if (live.length === 0) return;
    if (this.random.next() < 0.3) this.propose();
    if (this.random.next() < 0.3) this.read(this.pick(live));
  }

  /** Issues a write of a unique value. */
  private propose(): void {
    const id = `w${this.nextOp++}`;
    const w: PendingWrite = { id, key: this.pick(KEYS), value: id, node: 0, retryAt: 0 };
    this.writes.set(id, w);
    this.submit(w);
  }

  private submit(w: PendingWrite): void {
    // A client retries at another node than last time when it can: the last one may have been
    // removed from the cluster, or cut off (a real client gets 503 and moves on).
    const live = this.live().filter((n) => n.id !== w.node || this.live().length === 1);
    w.retryAt = this.now + WRITE_RETRY_TICKS;
    if (live.length === 0) return;
    const node = this.pick(live);
    w.node = node.id;
    try {
      node.raw!.propose([encodeWrite(w)]);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      // Refused at once (no leader known there): like a 503 with Retry-After, try elsewhere soon.
      w.retryAt = this.now + DROPPED_RETRY_TICKS;
    }
  }

  /** A client that heard nothing re-sends its write (possibly to another node). */
  private retryWrites(): void {
    for (const w of this.writes.values()) if (w.retryAt <= this.now) this.submit(w);
  }

  private read(node: SimNode): void {
    const ctx = `r${this.nextOp++}`;
    const key = this.pick(KEYS);
    try {
      node.raw!.readIndex(new TextEncoder().encode(ctx));
    } catch (err) {
      if (err instanceof ProposalDroppedError) return;
      throw err;
    }
    this.reads.set(ctx, { key, node: node.id, mustSeeIndex: this.ackedIndex.get(key) ?? 0, expiresAt: this.now + READ_TIMEOUT_TICKS });
  }

  private expireReads(): void {
    for (const [ctx, r] of this.reads) {
      const node = this.nodes[r.node - 1];
      // A crashed node forgets its reads; a read never confirmed times out (outcome: retry).
      if (!node.alive || r.expiresAt <= this.now) this.reads.delete(ctx);
      else if (r.index !== undefined && node.appliedIndex >= r.index) this.completeRead(ctx, r, node);
    }
  }

  private onReadState(node: SimNode, ctx: string, index: number): void {
    const r = this.reads.get(ctx);
    if (!r || r.node !== node.id || r.index !== undefined) return;
    r.index = index;
    if (node.appliedIndex >= index) this.completeRead(ctx, r, node);
  }

  private completeRead(ctx: string, r: PendingRead, node: SimNode): void {
    this.reads.delete(ctx);
    const seen = node.kv.get(r.key)?.index ?? 0;
    if (seen < r.mustSeeIndex) {
      throw new Violation(`stale read: ${ctx} of ${r.key} on node ${node.id} saw the write at index ${seen}, but the write at ${r.mustSeeIndex} was acknowledged before the read began`);
    }
    this.readsChecked++;
  }

  private onApply(node: SimNode, e: Entry): void {
    this.checker.observeApply(node, e);
    const w = decodeWrite(e.data);
    if (!w) return;
    const pending = this.writes.get(w.id);
    // The client hears "committed" from the node it sent the write to, once that node applies it.
    if (pending && pending.node === node.id) {
      this.writes.delete(w.id);
      this.writesAcked++;
      this.ackedIndex.set(w.key, Math.max(this.ackedIndex.get(w.key) ?? 0, e.index));
    }
  }

  private injectFaults(): void {
    const r = this.random.next();
    const live = this.live();
    if (r < 0.006 && live.length > 0) {
      this.pick(live).crash();
    } else if (r < 0.02) {
      const down = this.nodes.filter((n) => !n.alive);
      if (down.length > 0) this.pick(down).restart();
    } else if (r < 0.028) {
      this.partition();
    } else if (r < 0.04) {
      this.net.heal();
    } else if (r < 0.044) {
      // Leadership transfer under whatever faults are active.
      const leader = this.nodes.find((n) => n.isLeader);
      const others = this.ids.filter((id) => id !== leader?.id);
      if (leader) {
        leader.raw!.transferLeader(this.pick(others));
        this.transfers++;
      }
    } else if (r < 0.047) {
      this.changeMembership();
    } else if (r < 0.053) {
      this.net.faults = {
        dropRate: this.pick([0, 0, 0.02, 0.1, 0.3]),
        duplicateRate: this.pick([0, 0.02, 0.1]),
        delayTicksMax: this.pick([0, 1, 3, 8]),
      };
    }
  }

  private partition(): void {
    this.partitions++;
    const ids = [...this.ids];
    const kind = this.random.intn(4);
    if (kind === 0) {
      // Isolate one node (often the leader: the interesting case).
      const leader = this.nodes.find((n) => n.isLeader);
      this.net.isolate(leader && this.random.next() < 0.5 ? leader.id : this.pick(ids), ids);
    } else if (kind === 1) {
      // Majority / minority.
      for (let i = ids.length - 1; i > 0; i--) {
        const j = this.random.intn(i + 1);
        [ids[i], ids[j]] = [ids[j], ids[i]];
      }
      const cutAt = 1 + this.random.intn(ids.length - 1);
      this.net.split(ids.slice(0, cutAt), ids.slice(cutAt));
    } else if (kind === 2) {
      // Asymmetric: one node can send but not receive, or the reverse.
      const victim = this.pick(ids);
      const inbound = this.random.next() < 0.5;
      for (const other of ids) if (other !== victim) inbound ? this.net.cutLink(other, victim) : this.net.cutLink(victim, other);
    } else {
      // Bridge: two halves that only one node can reach both of.
      const bridge = this.pick(ids);
      const rest = ids.filter((id) => id !== bridge);
      const half = Math.ceil(rest.length / 2);
      this.net.split(rest.slice(0, half), rest.slice(half));
    }
  }
}
