/**
 * The driver's handle on the core (etcd's RawNode): feed it ticks, messages and proposals; take
 * a `Ready`; do its I/O in Raft's order; call `advance(ready)`. One Ready is outstanding at a
 * time — `ready()` before `advance()` (or `accept()`) of the previous one is a driver bug and
 * throws.
 *
 * Pipelined persistence (etcd's async storage writes, in the Ready/Advance shape): a driver may
 * `accept(ready)` as soon as it has handed the Ready's writes to storage and its committed
 * entries to the application, take the next Ready while that write is in flight, and report it
 * with `persisted(ready)` once durable — in the order the Readies were taken. Until then its
 * entries do not count towards this node's own match (a leader commits nothing on them), and
 * everything else the Ready says that depends on them (acks, votes) must not have left the node.
 * `advance(ready)` is `accept` and `persisted` together. A Ready with a snapshot is advanced,
 * never accepted: the driver writes everything in flight first.
 */
import { invariant } from './assert';
import type { Config } from './config';
import { Raft } from './raft';
import { flushReadIndexRound } from './read_index';
import { QuorumError } from '../errors';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type Ready,
  type ReadState,
  type SoftState,
  StateType,
  isLocalMessage,
  isResponseMessage,
  message,
} from './types';

/** A proposal or read the core could not accept (no leader, transfer in progress, limits). */
export class ProposalDroppedError extends QuorumError {
  constructor(what: string) {
    super('PROPOSAL_DROPPED', `${what} dropped: no leader, leadership transfer in progress, or a limit was reached`);
  }
}

/** A follower's replication progress as the leader tracks it (etcd's `Status().Progress`). */
export interface ProgressStatus {
  match: number;
  next: number;
  state: string;
  isLearner: boolean;
  recentActive: boolean;
}

/** The core's state, read-only (etcd's `RawNode.Status()`); the driver reads the core only here. */
export interface RawStatus {
  id: number;
  term: number;
  vote: number;
  lead: number;
  state: StateType;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Index of the newest conf change proposed by this leader (0: none pending). */
  pendingConfIndex: number;
  voters: number[];
  learners: number[];
  /** Leader only: every member's progress (empty on followers). */
  progress: ReadonlyMap<number, ProgressStatus>;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  /** The hard state the last taken Ready carried (or the initial one). */
  private prevHardState: HardState;
  /** The hard state the last persisted Ready made durable (term and vote fence the read path). */
  private durableHardState: HardState;
  private awaitingAdvance = false;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
    this.durableHardState = this.prevHardState;
  }

  get id(): number {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, to: this.raft.id, from: this.raft.id }));
  }

  /** Proposes a batch of payloads as consecutive entries (one MsgProp for all). */
  propose(payloads: readonly Uint8Array[]): void {
    if (payloads.length === 0) return;
    const entries: Entry[] = payloads.map((data) => ({ index: 0, term: 0, type: EntryType.Normal, data }));
    if (this.raft.step(message({ type: MessageType.Prop, to: 0, from: this.raft.id, entries })) === 'dropped') {
      throw new ProposalDroppedError('proposal');
    }
  }

  proposeConfChange(cc: ConfChange, encode: (cc: ConfChange) => Uint8Array): void {
    const entries: Entry[] = [{ index: 0, term: 0, type: EntryType.ConfChange, data: encode(cc) }];
    if (this.raft.step(message({ type: MessageType.Prop, to: 0, from: this.raft.id, entries })) === 'dropped') {
      throw new ProposalDroppedError('conf change');
    }
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** A message from a peer. Local message types cannot arrive from the network. */
  step(m: Message): void {
    if (isLocalMessage(m.type) || m.type === MessageType.Removed) throw new QuorumError('INVALID_MESSAGE', `${m.type} is not for the core to step`);
    // Responses from peers we no longer track (removed members) are ignored.
    if (isResponseMessage(m.type) && !this.raft.prs.progress.has(m.from)) return;
    this.raft.step(m);
  }

  /**
   * Requests a linearizable read. A `ReadState` with this context appears in a later Ready;
   * reads may be served once the state machine has applied its index.
   */
  readIndex(context: Uint8Array): void {
    const entries: Entry[] = [{ index: 0, term: 0, type: EntryType.Normal, data: context }];
    if (this.raft.step(message({ type: MessageType.ReadIndex, to: 0, from: 0, entries })) === 'dropped') {
      throw new ProposalDroppedError('read index');
    }
  }

  transferLeader(transferee: number): void {
    this.raft.step(message({ type: MessageType.TransferLeader, to: 0, from: transferee }));
  }

  /**
   * Leader: the voter other than itself with the most of the log (the cheapest to hand
   * leadership to; the lowest id among equals). Undefined on any other node or alone.
   */
  bestTransferee(): number | undefined {
    const r = this.raft;
    if (r.state !== StateType.Leader) return undefined;
    let best: number | undefined;
    for (const id of [...r.prs.voters].sort((a, b) => a - b)) {
      if (id === r.id) continue;
      if (best === undefined || (r.prs.progress.get(id)?.match ?? 0) > (r.prs.progress.get(best)?.match ?? 0)) best = id;
    }
    return best;
  }

  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.Unreachable, to: this.raft.id, from: id }));
  }

  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, to: this.raft.id, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    flushReadIndexRound(r);
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) return true;
    if (!sameHardState(r.hardState(), this.prevHardState)) return true;
    if (r.log.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstableEntries().length > 0 || r.log.hasNextCommittedEnts()) return true;
    return false;
  }

  ready(): Ready {
    invariant(!this.awaitingAdvance, 'ready() called before advance() of the previous Ready');
    const r = this.raft;
    flushReadIndexRound(r);
    const rd: Ready = {
      entries: r.log.unstableEntries().slice(),
      committedEntries: r.log.nextCommittedEnts(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!sameHardState(hs, this.prevHardState)) rd.hardState = hs;
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot;
    // A commit-index-only change may be written lazily; term, vote and entries must be synced.
    rd.mustSync = rd.entries.length > 0 || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    r.msgs = [];
    r.readStates = [];
    this.awaitingAdvance = true;
    return rd;
  }

  /**
   * Output that need not wait for the Ready being persisted: confirmed reads, and the read path's
   * messages (heartbeats, their answers, forwarded ReadIndex requests and answers). A driver
   * calls this between Readies, while one is still being written, so a linearizable read is not
   * held behind fsyncs it does not depend on (one on the leader before its round is sent, one on
   * each follower before it answers). The rest of the output stays for the next Ready, in order.
   * A heartbeat answer acknowledges this node's term: it leaves early only once that term (and
   * vote) is durable, i.e. equal to what the last advanced Ready persisted.
   */
  takeUrgent(): { messages: Message[]; readStates: ReadState[] } {
    const r = this.raft;
    flushReadIndexRound(r);
    const readStates = r.readStates;
    r.readStates = [];
    const durable = r.term === this.durableHardState.term && r.vote === this.durableHardState.vote;
    const messages: Message[] = [];
    const rest: Message[] = [];
    for (const m of r.msgs) (isUrgent(m, durable) ? messages : rest).push(m);
    r.msgs = rest;
    return { messages, readStates };
  }

  /** The driver persisted `rd`'s entries, hard state and snapshot, and took its committed entries. */
  advance(rd: Ready): void {
    invariant(this.awaitingAdvance, 'advance() without an outstanding Ready');
    if (rd.snapshot) {
      this.raft.log.stableSnapTo(rd.snapshot.metadata.index);
      // The driver installed the snapshot's state: everything it covers counts as applied.
      this.raft.log.appliedTo(rd.snapshot.metadata.index);
    }
    this.acceptTaken(rd);
    this.persisted(rd);
  }

  /**
   * The driver handed `rd`'s entries and hard state to a write now in flight, and its committed
   * entries to the application; the next Ready may be taken. `persisted(rd)` follows.
   */
  accept(rd: Ready): void {
    invariant(this.awaitingAdvance, 'accept() without an outstanding Ready');
    invariant(!rd.snapshot, 'a Ready with a snapshot is advanced, not accepted');
    this.acceptTaken(rd);
  }

  /**
   * `rd`, accepted earlier (and every Ready before it), is durable. May come while a later Ready
   * is outstanding (a driver drains its writes before handling a snapshot).
   */
  persisted(rd: Ready): void {
    if (rd.hardState) this.durableHardState = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.raft.onPersisted(last.index, last.term);
    }
  }

  private acceptTaken(rd: Ready): void {
    this.awaitingAdvance = false;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.raft.log.unstable.acceptInProgress(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      this.raft.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
      if (this.raft.state === StateType.Leader) this.raft.reduceUncommittedBytes(rd.committedEntries);
    }
  }

  /** The current term (without building a whole `status()`: the driver asks once per turn). */
  get term(): number {
    return this.raft.term;
  }

  /** The core's state for the driver, operators and tests (progress only on a leader). */
  status(): RawStatus {
    const r = this.raft;
    const progress = new Map<number, ProgressStatus>();
    if (r.state === StateType.Leader) {
      for (const [id, pr] of r.prs.progress) progress.set(id, { match: pr.match, next: pr.next, state: String(pr.state), isLearner: pr.isLearner, recentActive: pr.recentActive });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      state: r.state,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      pendingConfIndex: r.pendingConfIndex,
      voters: [...r.prs.voters].sort((a, b) => a - b),
      learners: [...r.prs.learners].sort((a, b) => a - b),
      progress,
    };
  }

  /** Cheap checks for the hot path (no allocation). */
  get isLeader(): boolean {
    return this.raft.state === StateType.Leader;
  }

  get lead(): number {
    return this.raft.lead;
  }

  get committed(): number {
    return this.raft.log.committed;
  }

  get applied(): number {
    return this.raft.log.applied;
  }

  get lastIndex(): number {
    return this.raft.log.lastIndex();
  }

  /** Whether `id` has a progress entry (a leader tracks every member; anyone else, nobody). */
  tracks(id: number): boolean {
    return this.raft.prs.progress.has(id);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Messages a leader may send before its own write of the same Ready is durable. */
export function sendableBeforePersist(m: Message): boolean {
  return m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
}

/** Messages of the read path that `takeUrgent` hands out ahead of the Ready loop. */
function isUrgent(m: Message, termDurable: boolean): boolean {
  switch (m.type) {
    case MessageType.Heartbeat:
    case MessageType.ReadIndex:
    case MessageType.ReadIndexResp:
      return true;
    case MessageType.HeartbeatResp:
      return termDurable;
    default:
      return false;
  }
}
