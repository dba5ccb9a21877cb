/**
 * One simulated server: a RawNode driven the way the real node drives it. A Ready's entries and
 * hard state go to a write that completes after a random number of ticks; only then are its
 * messages sent (a leader's appends and heartbeats may leave at once), its committed entries
 * applied and `advance` called. A crash loses the writes in progress and everything volatile;
 * the MemoryStorage (what was persisted) survives.
 *
 * Pipelined (`writesInFlightMax` > 1, as the real node): a Ready is accepted at once — committed
 * entries applied (they are durable already), read states released — and the next one taken
 * while its write is in flight; writes complete in order (one WAL), each then sends what waited
 * on it and reports `persisted`. A Ready with a snapshot or a membership change waits for the
 * writes before it and is advanced the classic way.
 */
import {
  type ConfChange,
  type Entry,
  EntryType,
  type Message,
  MemoryStorage,
  type Random,
  RawNode,
  type Ready,
  type Snapshot,
  sendableBeforePersist,
} from '../../ts/raft';
import { coreOf } from '../helpers/core';

export interface Write {
  id: string;
  key: string;
  value: string;
}

export interface KvValue {
  value: string;
  /** Raft index of the entry that last wrote the key. */
  index: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeWrite(w: Write): Uint8Array {
  return encoder.encode(`${w.id}\n${w.key}\n${w.value}`);
}

export const encodeConfChange = (cc: ConfChange): Uint8Array => encoder.encode(JSON.stringify({ type: cc.type, nodeId: cc.nodeId }));
export const decodeConfChange = (data: Uint8Array): ConfChange => JSON.parse(decoder.decode(data)) as ConfChange;

export function decodeWrite(data: Uint8Array): Write | undefined {
  if (data.length === 0) return undefined;
  const [id, key, value] = decoder.decode(data).split('\n');
  return { id, key, value };
}

function encodeKv(kv: Map<string, KvValue>): Uint8Array {
  return encoder.encode(JSON.stringify([...kv]));
}

function decodeKv(data: Uint8Array): Map<string, KvValue> {
  return data.length === 0 ? new Map() : new Map(JSON.parse(decoder.decode(data)) as [string, KvValue][]);
}

export interface NodeHooks {
  /** A snapshot from the leader is about to replace this node's state. */
  onSnapshot(node: SimNode, snap: Snapshot): void;
  /** Called with each Ready as it is taken, before any I/O (for the log checkers). */
  onReady(node: SimNode, rd: Ready): void;
  onApply(node: SimNode, e: Entry): void;
  onReadState(node: SimNode, ctx: string, index: number): void;
  send(m: Message): void;
}

export class SimNode {
  raw: RawNode | undefined;
  readonly storage: MemoryStorage;
  kv = new Map<string, KvValue>();
  appliedIndex = 0;
  /** Readies being persisted, oldest first, with the tick each write completes (non-decreasing). */
  private inProgress: { rd: Ready; doneAt: number; accepted: boolean }[] = [];
  crashes = 0;

  constructor(
    readonly id: number,
    voters: number[],
    private readonly random: Random,
    private readonly hooks: NodeHooks,
    private readonly persistTicksMax: number,
    private readonly electionTimeoutTicks: number,
    private readonly heartbeatTimeoutTicks: number,
    /** Entries applied since the last snapshot before taking another (0 = never). */
    private readonly snapshotEntries = 0,
    /** Lease reads on the simulation's clock (ticks), with every start fencing its votes. */
    private readonly lease?: { leaseReadMs: number; nowMs: () => number },
    /** 1: one Ready at a time; more: pipelined persistence with that many writes in flight. */
    private readonly writesInFlightMax = 1,
  ) {
    this.storage = MemoryStorage.withVoters(voters);
    this.start();
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  get isLeader(): boolean {
    return this.raw?.isLeader ?? false;
  }

  private start(): void {
    // The state machine restarts from the last snapshot (if any) and replays the log after it.
    const snap = this.storage.snapshot();
    this.kv = decodeKv(snap.data);
    this.appliedIndex = snap.metadata.index;
    this.raw = new RawNode({
      id: this.id,
      storage: this.storage,
      random: this.random,
      electionTimeoutTicks: this.electionTimeoutTicks,
      heartbeatTimeoutTicks: this.heartbeatTimeoutTicks,
      msgBytesMax: 4096,
      inflightMsgsMax: 16,
      ...(this.lease ? { ...this.lease, startupVoteFence: true } : {}),
    });
  }

  crash(): void {
    this.raw = undefined;
    this.inProgress = [];
    this.crashes++;
  }

  restart(): void {
    if (!this.alive) this.start();
  }

  tick(): void {
    this.raw?.tick();
  }

  step(m: Message): void {
    this.raw?.step(m);
  }

  /** Completes due writes and takes the next Ready; returns whether anything happened. */
  drive(now: number): boolean {
    const raw = this.raw;
    if (!raw) return false;
    const moved = this.completeDue(raw, now);
    const last = this.inProgress.at(-1);
    if ((last && !last.accepted) || this.inProgress.length >= this.writesInFlightMax || !raw.hasReady()) return moved;
    const rd = raw.ready();
    this.hooks.onReady(this, rd);
    for (const m of rd.messages) if (sendableBeforePersist(m)) this.hooks.send(m);
    const accepted = this.writesInFlightMax > 1 && !rd.snapshot && !rd.committedEntries.some((e) => e.type === EntryType.ConfChange);
    if (accepted) {
      this.applyCommitted(raw, rd);
      raw.accept(rd);
      this.maybeCompact(raw);
    }
    const doneAt = Math.max(last?.doneAt ?? 0, now + this.random.intn(this.persistTicksMax + 1));
    this.inProgress.push({ rd, doneAt, accepted });
    this.completeDue(raw, now);
    return true;
  }

  private completeDue(raw: RawNode, now: number): boolean {
    let moved = false;
    while (this.inProgress.length > 0 && this.inProgress[0].doneAt <= now) {
      const { rd, accepted } = this.inProgress.shift()!;
      if (accepted) this.finishAccepted(raw, rd);
      else this.finish(raw, rd);
      moved = true;
    }
    return moved;
  }

  /** An accepted Ready's write completed: what waited on it leaves. */
  private finishAccepted(raw: RawNode, rd: Ready): void {
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) if (!sendableBeforePersist(m)) this.hooks.send(m);
    raw.persisted(rd);
  }

  private finish(raw: RawNode, rd: Ready): void {
    // Persist first; only then may anything that depends on it leave the node.
    if (rd.snapshot) {
      this.storage.applySnapshot(rd.snapshot);
      this.hooks.onSnapshot(this, rd.snapshot);
      this.kv = decodeKv(rd.snapshot.data);
      this.appliedIndex = rd.snapshot.metadata.index;
    }
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) if (!sendableBeforePersist(m)) this.hooks.send(m);
    this.applyCommitted(raw, rd);
    raw.advance(rd);
    this.maybeCompact(raw);
  }

  private applyCommitted(raw: RawNode, rd: Ready): void {
    for (const e of rd.committedEntries) {
      if (e.index !== this.appliedIndex + 1) throw new Error(`node ${this.id} applied ${e.index} after ${this.appliedIndex}`);
      this.appliedIndex = e.index;
      if (e.type === EntryType.ConfChange) {
        // Membership takes effect when applied (etcd's rule); a refused change arrives as a no-op.
        raw.applyConfChange(decodeConfChange(e.data));
      } else {
        const w = decodeWrite(e.data);
        if (w) this.kv.set(w.key, { value: w.value, index: e.index });
      }
      this.hooks.onApply(this, e);
    }
    for (const s of rd.readStates) this.hooks.onReadState(this, decoder.decode(s.requestCtx), s.index);
  }

  /** Snapshots the state machine and drops the log before it, every `snapshotEntries`. */
  private maybeCompact(raw: RawNode): void {
    if (this.snapshotEntries === 0 || this.appliedIndex - this.storage.firstIndex() < this.snapshotEntries) return;
    this.storage.createSnapshot(this.appliedIndex, coreOf(raw).prs.confState(), encodeKv(this.kv));
    this.storage.compact(this.appliedIndex);
  }
}
