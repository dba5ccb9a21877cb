/**
 * The driver: owns the pure Raft core and does its I/O in Raft's order (../shared/DESIGN.md).
 *
 *   r = core.ready()
 *   1. leader's appends/heartbeats leave at once (in parallel with its own write)
 *   2. wal.append(r.entries, r.hardState)          — group commit in the addon
 *   3. every other message leaves (votes, acks: only after they are durable)
 *   4. applier.push(r.committedEntries)            — async, one WriteBatch per batch
 *   5. read states wait for applied ≥ index
 *   core.advance(r)
 *
 * Batching: proposals and linearizable reads arriving in one event-loop turn become one
 * MsgProp and one ReadIndex request. Limits: `proposalsPerTurnMax`, `readsPendingMax`.
 * A WAL or engine failure is fatal: `onFatal` is called and the node stops driving the core.
 *
 * Snapshots (`snapshots.ts`): once `snapshotEntries` entries (or `snapshotLogBytes` bytes of
 * entries) were applied since the last one,
 * the engine is checkpointed in the background and the log compacted, keeping
 * `snapshotCatchUpEntries` for followers slightly behind. Followers further behind get the
 * snapshot streamed (`snapshot_stream.ts`) beside the regular peer connection; a follower
 * installs a received snapshot between Readies, bracketed so a crash leaves old or new state.
 *
 * Membership (`membership.ts`, `conf_tracker.ts`): a committed conf change takes effect in the
 * core when handed out for applying (one at a time, the core's rule), and the peer transport
 * follows; the applier records the resulting membership with the data. A leader keeps sending
 * a removed follower the commit index for a while so it can apply its removal; a node that
 * applies its own removal reports it (`onRemoved`) and fails what waits on it.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, QuorumError } from '../errors';
import { Engine, Wal, type WalOptions } from '../native';
import { mulberry32 } from '../raft/random';
import { ProposalDroppedError, RawNode, sendableBeforePersist } from '../raft/rawnode';
import { ConfChangeType, type Entry, type Message, message, MessageType, type Ready, type Snapshot, StateType } from '../raft/types';
import { formatPeerAddress, type PeerAddress, PeerTransport } from '../transport/peer';
import { sendSnapshot } from '../transport/snapshot_stream';
import { SnapshotStore, snapshotIndexOf, toRaftSnapshot } from './snapshots';
import { type Applied, type ApplyResult, Applier, storedMembers } from './applier';
import { ConfTracker } from './conf_tracker';
import { confStateOf, decodeMemberChange, encodeMemberChange, initialRecord, isMember, type MemberChange, type MembersRecord, toConfChange } from './membership';
import { type Command, encodeCommand, Op } from './commands';
import { WalStorage } from './raft_storage';

export interface RaftNodeConfig {
  id: number;
  dataDir: string;
  /**
   * Peer addresses this node knows locally (this node included): the voters a new cluster is
   * bootstrapped with (`--cluster`), or, with `joining`, the members a joining node fetched.
   * They take precedence over addresses in the replicated membership record.
   */
  members: ReadonlyMap<number, PeerAddress>;
  /**
   * A new node joining an existing cluster: if it holds no state yet it starts with an empty
   * configuration and waits for the leader's snapshot (instead of bootstrapping `members`).
   */
  joining?: boolean;
  /**
   * Joining with no state: the cluster's term when it was added. The node records that it has
   * voted in that term, so it grants no vote in any term up to it — its id may have belonged to
   * a member whose data (and votes) were wiped, and one vote per term must hold across that.
   */
  joinTerm?: number;
  tickMs?: number;
  electionTimeoutTicks?: number;
  heartbeatTimeoutTicks?: number;
  /** A request not answered within this is failed with `timeout` (its outcome is unknown). */
  requestTimeoutMs?: number;
  proposalsPerTurnMax?: number;
  readsPendingMax?: number;
  /** Take a snapshot and compact the log once this many entries were applied since the last. */
  snapshotEntries?: number;
  /** ... or once the entries applied since the last snapshot hold this many bytes. */
  snapshotLogBytes?: number;
  /** Entries kept in the log before a snapshot, so slightly lagging followers need no snapshot. */
  snapshotCatchUpEntries?: number;
  /** Most bytes a received snapshot may hold. */
  snapshotBytesMax?: number;
  /** Test-only WAL faults (the chaos suite's disk nemesis); never set in production. */
  walFaults?: Pick<WalOptions, 'failSyncAt' | 'tornWriteAt'>;
  onFatal?: (err: Error) => void;
  /** The known leader or this node's role changed. */
  onSoftState?: (leader: number, state: StateType) => void;
  /** A snapshot was taken here (and the log compacted), streamed to a follower (or failed
   *  to), or received and installed. */
  onSnapshot?: (event: 'created' | 'installed' | 'sent' | 'send_failed', index: number, detail?: { to?: number; error?: string; ms?: number; bytes?: number }) => void;
  /** A membership change was applied here. */
  onMembership?: (change: MemberChange, index: number, members: MembersRecord) => void;
  /** This node applied its own removal from the cluster: it takes no further part. */
  onRemoved?: (index: number) => void;
}

/**
 * The log of a bootstrapped cluster starts after this index: every founding node begins from
 * the same empty snapshot here (term 1, configuration `members`), so a node that joins later —
 * whose log is empty — can never be sent entries from index 1 (which would replay the log
 * without knowing the founding configuration): the leader has to send it a snapshot, which
 * carries the configuration. (TiKV starts its regions the same way.)
 */
export const BOOTSTRAP_INDEX = 1;

export class UnavailableError extends QuorumError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

export class TimeoutError extends QuorumError {
  constructor(message: string) {
    super('timeout', message);
  }
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  done?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RaftNode {
  readonly id: number;
  private readonly raw: RawNode;
  private readonly transport: PeerTransport;
  private readonly applier: Applier;
  private ticker: NodeJS.Timeout | undefined;
  private scheduled = false;
  private running = false;
  private rerun = false;
  private stopped = false;
  private fatal: Error | undefined;
  private seq = 0;
  /**
   * Marks this process's proposals (see commands.ts): random per start, so entries proposed by
   * an earlier run of this node never settle this run's requests. 1 in 2^32 to collide.
   */
  private readonly origin = randomInt(1, 2 ** 32);
  private readSeq = 0;
  private queuedProposals: { seq: number; payload: Buffer }[] = [];
  private readonly proposals = new Map<number, Waiter<ApplyResult>>();
  private queuedReads: Waiter<void>[] = [];
  private readonly reads = new Map<string, Waiter<void>[]>();
  private readsPending = 0;
  private readonly cfg: Required<Omit<RaftNodeConfig, 'onFatal' | 'onSoftState' | 'onSnapshot' | 'walFaults' | 'onMembership' | 'onRemoved' | 'joinTerm'>> &
    Pick<RaftNodeConfig, 'onFatal' | 'onSoftState' | 'onSnapshot' | 'onMembership' | 'onRemoved'>;
  /** Membership changes waiting for the next run (one MsgProp each). */
  private queuedConfChanges: { seq: number; payload: Buffer }[] = [];
  /**
   * The membership as the Raft core has it: conf changes take effect in the core when their
   * entry is handed out for applying (the applier's record follows when it is applied).
   */
  private readonly conf: ConfTracker;
  private ticks = 0;
  /** Bytes of entries handed out for applying since the last snapshot began. */
  private logBytesSinceSnapshot = 0;
  private removed = false;
  /** A snapshot being created (at most one); an install waits for it. */
  private snapshotting: Promise<void> | undefined;
  /** A received snapshot is being installed: no new snapshot may start. */
  private installing = false;
  /** Snapshot indexes streaming to followers (not pruned meanwhile). */
  private readonly streaming = new Map<number, number>();
  private currentEngine: Engine;
  /** Callers of `transferLeadership` waiting for `to` to lead. */
  private leaderWaiters: { to: number; resolve: (term: number) => void; timer: NodeJS.Timeout }[] = [];

  private constructor(
    cfg: RaftNodeConfig,
    private readonly wal: Wal,
    engine: Engine,
    private readonly storage: WalStorage,
    private readonly snaps: SnapshotStore,
    initialMembers: MembersRecord,
  ) {
    this.currentEngine = engine;
    this.cfg = {
      tickMs: 10,
      electionTimeoutTicks: 30,
      heartbeatTimeoutTicks: 3,
      requestTimeoutMs: 5000,
      proposalsPerTurnMax: 8192,
      readsPendingMax: 65536,
      snapshotEntries: 10_000,
      snapshotLogBytes: 64 << 20,
      snapshotCatchUpEntries: 1_000,
      snapshotBytesMax: 64 * 2 ** 30,
      joining: false,
      ...cfg,
    };
    this.id = cfg.id;
    this.applier = new Applier(engine, initialMembers, (results) => this.onApplied(results), (err) => this.fail(err));
    // The core starts from the configuration at the engine's applied index (see open()).
    this.conf = new ConfTracker(this.applier.members, cfg.id, cfg.members);
    this.raw = new RawNode({
      id: cfg.id,
      storage,
      random: mulberry32(randomInt(2 ** 31)),
      electionTimeoutTicks: this.cfg.electionTimeoutTicks,
      heartbeatTimeoutTicks: this.cfg.heartbeatTimeoutTicks,
      applied: RaftNode.resumeIndex(this.applier.applied, storage),
    });
    const self = cfg.members.get(cfg.id);
    if (!self) throw new QuorumError('INVALID_CONFIG', `node ${cfg.id} has no peer address among the members`);
    this.transport = new PeerTransport({
      id: cfg.id,
      listen: self,
      peers: this.conf.peerAddresses(),
      onMessages: (msgs) => this.onMessages(msgs),
      onUnreachable: (id) => {
        this.raw.reportUnreachable(id);
        this.schedule();
      },
      snapshots: {
        snapshotBytesMax: this.cfg.snapshotBytesMax,
        begin: (msg) => this.snaps.receiving(msg.snapshot!.metadata.index),
        commit: (msg, dir) => {
          const md = msg.snapshot!.metadata;
          const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { index: number; term: number };
          if (meta.index !== md.index || meta.term !== md.term || snapshotIndexOf(msg.snapshot!.data) !== md.index) {
            throw new QuorumError('SNAPSHOT_MISMATCH', `streamed files are snapshot ${meta.index}/${meta.term}, the message says ${md.index}/${md.term}`);
          }
          this.snaps.seal(dir, { index: md.index, term: md.term, confState: md.confState });
          this.onMessages([msg]);
        },
        discard: (dir) => this.snaps.discard(dir),
      },
    });
  }

  /** The state machine (replaced when a snapshot is installed). */
  get engine(): Engine {
    return this.currentEngine;
  }

  /** Opens (or creates) the node's WAL and engine under `dataDir`. */
  static async open(cfg: RaftNodeConfig): Promise<RaftNode> {
    mkdirSync(cfg.dataDir, { recursive: true });
    const wal = Wal.open(join(cfg.dataDir, 'wal'), { ...cfg.walFaults });
    const snaps = new SnapshotStore(cfg.dataDir);
    const interrupted = snaps.pendingInstall();
    let engine: Engine;
    if (interrupted !== undefined) {
      // A crash during a snapshot install: finish it (both steps are idempotent).
      engine = Engine.openFromCheckpoint(join(snaps.path(interrupted), 'engine'), join(cfg.dataDir, 'engine'));
      await wal.reset(interrupted + 1);
      snaps.endInstall();
    } else {
      engine = Engine.open(join(cfg.dataDir, 'engine'));
    }
    // A received snapshot that was never installed is newer than the engine: not ours yet.
    const applied = engine.appliedIndex();
    for (const index of snaps.indexes()) if (index > applied) snaps.remove(index);
    const latest = snaps.latest();
    let initial: Snapshot;
    if (latest) {
      initial = toRaftSnapshot(latest);
    } else if (cfg.joining && applied === 0 && wal.lastIndex() < wal.firstIndex()) {
      // Nothing yet: no configuration either, until the leader's snapshot brings one.
      initial = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
      const hs = wal.hardState();
      if (cfg.joinTerm !== undefined && hs.term < cfg.joinTerm) await wal.append([], { term: cfg.joinTerm, vote: cfg.id, commit: 0 });
    } else {
      const index = BOOTSTRAP_INDEX;
      if (wal.firstIndex() <= index && wal.lastIndex() >= index) {
        // Written by a version whose log began at index 1 with no bootstrap snapshot: its entry 1
        // is not the bootstrap snapshot, and reading it as one would break log matching.
        wal.close();
        engine.close();
        throw new QuorumError('DATA_LAYOUT_UNSUPPORTED', `${cfg.dataDir} holds a log that starts at index ${index} without a snapshot (an older data layout); start this node with an empty data directory`);
      }
      initial = { metadata: { index, term: 1, confState: { voters: [...cfg.members.keys()].sort((a, b) => a - b), learners: [] } }, data: new Uint8Array() };
      if (wal.lastIndex() < wal.firstIndex() && wal.firstIndex() <= index) await wal.reset(index + 1);
    }
    // The configuration at the engine's applied index: the record the engine holds (written with
    // every change), or — none written yet — the snapshot's.
    const members = storedMembers(engine) ?? initialRecord(initial.metadata.confState);
    const storage = await WalStorage.open(wal, initial, confStateOf(members));
    return new RaftNode(cfg, wal, engine, storage, snaps, initialRecord(initial.metadata.confState));
  }

  /**
   * Where the core resumes applying. The engine may be ahead of the persisted commit index (a
   * commit-only hard state is not awaited), never of the log; entries it already holds are
   * skipped by the applier when the core hands them out again.
   */
  private static resumeIndex(engineApplied: number, storage: WalStorage): number {
    // Never below the snapshot: the entries before it are gone, and the engine holds them.
    return Math.max(storage.snapshot().metadata.index, Math.min(engineApplied, storage.initialState().hardState.commit, storage.lastIndex()));
  }

  /** Starts the peer listener, the tick timer and the core. Resolves to the peer port. */
  async start(): Promise<number> {
    const port = await this.transport.start();
    this.ticker = setInterval(() => {
      this.ticks++;
      this.raw.tick();
      this.sendFarewells();
      this.schedule();
    }, this.cfg.tickMs);
    // Replay committed-but-unapplied entries and pending Readies from before a restart.
    this.schedule();
    return port;
  }

  status(): { id: number; leader: number; term: number; commitIndex: number; appliedIndex: number; snapshotIndex: number; firstLogIndex: number; state: StateType; learner: boolean } {
    const st = this.raw.status();
    return {
      id: this.id,
      leader: st.lead,
      term: st.term,
      commitIndex: st.commit,
      appliedIndex: this.applier.applied,
      snapshotIndex: this.storage.snapshot().metadata.index,
      firstLogIndex: this.storage.firstIndex(),
      state: st.state,
      learner: this.conf.current.learners.includes(this.id),
    };
  }

  /** Proposes a command; resolves with its result once applied here. */
  propose(command: Omit<Command, 'origin' | 'seq'>): Promise<ApplyResult> {
    if (this.fatal) return Promise.reject(this.stoppedByFailure());
    if (this.stopped || this.removed) return Promise.reject(new UnavailableError(this.removed ? 'this node was removed from the cluster' : 'node is shutting down'));
    if (this.queuedProposals.length >= this.cfg.proposalsPerTurnMax) return Promise.reject(new UnavailableError('too many proposals queued'));
    const seq = ++this.seq;
    const payload = encodeCommand({ ...command, origin: this.origin, seq });
    return new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(seq);
        reject(new TimeoutError('write not confirmed in time; its outcome is unknown'));
      }, this.cfg.requestTimeoutMs);
      this.proposals.set(seq, { resolve, reject, timer });
      this.queuedProposals.push({ seq, payload });
      this.schedule();
    });
  }

  /**
   * Asks the leader to hand leadership to voter `to` (it catches `to` up, then tells it to
   * campaign at once) and resolves with the term once this node sees `to` lead.
   */
  transferLeadership(to: number, timeoutMs = 4 * this.cfg.electionTimeoutTicks * this.cfg.tickMs): Promise<number> {
    if (this.fatal) return Promise.reject(this.stoppedByFailure());
    if (this.stopped || this.removed) return Promise.reject(new UnavailableError(this.removed ? 'this node was removed from the cluster' : 'node is shutting down'));
    const st = this.raw.status();
    if (st.lead === to) return Promise.resolve(st.term);
    if (st.lead === 0) return Promise.reject(new UnavailableError('no leader to hand over from; retry'));
    return new Promise<number>((resolve, reject) => {
      const waiter = {
        to,
        resolve,
        timer: setTimeout(() => {
          this.leaderWaiters = this.leaderWaiters.filter((w) => w !== waiter);
          reject(new TimeoutError(`leadership did not move to ${to} in time`));
        }, timeoutMs),
      };
      this.leaderWaiters.push(waiter);
      this.raw.transferLeader(to);
      this.schedule();
    });
  }

  /** Leader: the voter with the most of the log (the cheapest to hand leadership to). */
  bestTransferee(): number | undefined {
    if (!this.isLeader) return undefined;
    const prs = this.raw.raft.prs;
    let best: number | undefined;
    for (const id of prs.voters) {
      if (id === this.id) continue;
      if (best === undefined || (prs.progress.get(id)?.match ?? 0) > (prs.progress.get(best)?.match ?? 0)) best = id;
    }
    return best;
  }

  /** The membership as of this node's applied index. */
  members(): MembersRecord {
    return this.applier.members;
  }

  /** Records this node's client address in the membership record (through the log). */
  async publishClient(client: PeerAddress): Promise<void> {
    await this.propose({ op: Op.Publish, key: `${this.id} ${formatPeerAddress(client)}` });
  }

  /** The members with their role and addresses (`selfClient`: this node's client address). */
  memberList(selfClient?: PeerAddress): { id: number; name: string; learner: boolean; peer: string | null; client: string | null }[] {
    const rec = this.applier.members;
    const entry = (id: number, learner: boolean) => {
      const local = this.cfg.members.get(id);
      const recorded = rec.addresses[String(id)] ?? {};
      const client = id === this.id && selfClient ? formatPeerAddress(selfClient) : (recorded.client ?? null);
      return { id, name: `n${id}`, learner, peer: local ? formatPeerAddress(local) : (recorded.peer ?? null), client };
    };
    return [...rec.voters.map((id) => entry(id, false)), ...rec.learners.map((id) => entry(id, true))].sort((a, b) => a.id - b.id);
  }

  /**
   * Adds a member (a learner, or a voter), promotes a learner (`AddNode` of a learner) or
   * removes a member, by one single-server change through the log; resolves with the
   * membership once the change is applied here. Refused up front when it would change nothing
   * or another change is still pending (the core allows one at a time).
   */
  async changeMembership(type: ConfChangeType, nodeId: number, addresses: { peer?: string; client?: string } = {}): Promise<MembersRecord> {
    if (this.fatal) throw this.stoppedByFailure();
    if (this.stopped) throw new UnavailableError('node is shutting down');
    const rec = this.applier.members;
    const voter = rec.voters.includes(nodeId);
    const learner = rec.learners.includes(nodeId);
    if (type === ConfChangeType.AddLearnerNode && (voter || learner)) throw new ConflictError('member_exists', `n${nodeId} is already a ${voter ? 'voter' : 'learner'}`);
    if (type === ConfChangeType.AddNode && voter) throw new ConflictError('member_exists', `n${nodeId} is already a voter`);
    if (type === ConfChangeType.AddNode && !learner && !addresses.peer) throw new QuorumError('invalid_body', `a new member needs its peer address`);
    if (type === ConfChangeType.RemoveNode && !voter && !learner) throw new NotFoundError('unknown_member', `n${nodeId} is not a member`);
    if (type === ConfChangeType.RemoveNode && voter && rec.voters.length === 1) throw new ConflictError('last_voter', `n${nodeId} is the only voter; the cluster cannot lose it`);
    const r = this.raw.raft;
    if (r.state === StateType.Leader && r.pendingConfIndex > r.log.applied) {
      throw new ConflictError('membership_change_pending', `the change at index ${r.pendingConfIndex} is not applied yet; one change at a time`);
    }
    const seq = ++this.seq;
    const payload = encodeMemberChange({ type, nodeId, origin: this.origin, seq, peer: addresses.peer ?? '', client: addresses.client ?? '' });
    const result = await new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(seq);
        reject(new TimeoutError('membership change not confirmed in time; its outcome is unknown'));
      }, this.cfg.requestTimeoutMs);
      this.proposals.set(seq, { resolve, reject, timer });
      this.queuedConfChanges.push({ seq, payload });
      this.schedule();
    });
    if (result.kind !== 'member') throw new QuorumError('INVARIANT', `a membership change applied as ${result.kind}`);
    return result.members;
  }

  /** Resolves when local state reflects every write acknowledged before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    if (this.fatal) return Promise.reject(this.stoppedByFailure());
    if (this.stopped || this.removed) return Promise.reject(new UnavailableError(this.removed ? 'this node was removed from the cluster' : 'node is shutting down'));
    if (this.readsPending >= this.cfg.readsPendingMax) return Promise.reject(new UnavailableError('too many reads pending'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = {
        resolve,
        reject,
        timer: setTimeout(() => this.settleRead(waiter, new TimeoutError('read index not confirmed in time')), this.cfg.requestTimeoutMs),
      };
      this.readsPending++;
      this.queuedReads.push(waiter);
      this.schedule();
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    await this.transport.close();
    while (this.running) await new Promise((r) => setImmediate(r));
    await this.applier.idle();
    for (const w of this.leaderWaiters) clearTimeout(w.timer);
    this.leaderWaiters = [];
    // These may still commit (through another leader, or after a restart): unknown, not failed.
    for (const w of this.proposals.values()) {
      clearTimeout(w.timer);
      w.reject(new TimeoutError('the node stopped before the write was confirmed; its outcome is unknown'));
    }
    this.proposals.clear();
    await this.snapshotting;
    this.wal.close();
    this.currentEngine.close();
  }

  private onMessages(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) this.raw.step(m);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped || this.fatal) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    try {
      // Requests that arrived while the previous Ready was being persisted join the next one.
      while (!this.fatal) {
        this.flushConfChanges();
        this.flushProposals();
        this.flushReads();
        if (!this.raw.hasReady()) break;
        await this.handleReady(this.raw.ready());
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.running = false;
    }
    if (this.rerun) {
      this.rerun = false;
      this.schedule();
    }
  }

  /** One MsgProp for everything proposed this turn. */
  private flushProposals(): void {
    if (this.queuedProposals.length === 0) return;
    const batch = this.queuedProposals;
    this.queuedProposals = [];
    try {
      this.raw.propose(batch.map((p) => p.payload));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      for (const p of batch) this.settleProposal(p.seq, undefined, new UnavailableError('no leader to accept the write; retry'));
    }
  }

  private flushConfChanges(): void {
    for (const c of this.queuedConfChanges.splice(0)) {
      try {
        this.raw.proposeConfChange(toConfChange(decodeMemberChange(c.payload)), () => c.payload);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        this.settleProposal(c.seq, undefined, new UnavailableError('no leader to accept the membership change; retry'));
      }
    }
  }

  /** One ReadIndex request (one heartbeat round) for every read queued this turn. */
  private flushReads(): void {
    if (this.queuedReads.length === 0) return;
    const waiters = this.queuedReads;
    this.queuedReads = [];
    const ctx = `${this.id}:${++this.readSeq}`;
    try {
      this.raw.readIndex(encoder.encode(ctx));
      this.reads.set(ctx, waiters);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      for (const w of waiters) this.settleRead(w, new UnavailableError('no leader to confirm the read; retry'));
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    for (const m of rd.messages) if (m.type === MessageType.Snap) this.streamSnapshot(m);
    const messages = rd.messages.filter((m) => m.type !== MessageType.Snap);
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    this.transport.send(messages.filter(sendableBeforePersist));
    if (rd.entries.length === 0 && !rd.mustSync) {
      // A commit-index-only change: written in order with everything else, but nothing waits
      // for its fsync (losing it in a crash only means re-learning the commit index).
      if (rd.hardState) this.storage.persist([], rd.hardState).catch((err: Error) => this.fail(err));
    } else {
      await this.storage.persist(rd.entries, rd.hardState);
    }
    this.transport.send(messages.filter((m) => !sendableBeforePersist(m)));
    this.applyConfChanges(rd.committedEntries);
    for (const e of rd.committedEntries) this.logBytesSinceSnapshot += e.data.length;
    this.applier.push(rd.committedEntries);
    for (const rs of rd.readStates) {
      const ctx = decoder.decode(rs.requestCtx);
      const waiters = this.reads.get(ctx);
      if (!waiters) continue;
      this.reads.delete(ctx);
      this.applier.waitFor(rs.index).then(
        () => waiters.forEach((w) => this.settleRead(w)),
        // The engine failed (the node is stopping): the read was not served; retry elsewhere.
        (err: Error) => waiters.forEach((w) => this.settleRead(w, new UnavailableError(`the state machine failed: ${err.message}`))),
      );
    }
    this.raw.advance(rd);
    if (rd.softState) {
      // Reads waiting on a leader that is gone (or on this node's lost leadership) will never be
      // confirmed: fail them now as retryable rather than at the request timeout.
      for (const [ctx, waiters] of this.reads) {
        this.reads.delete(ctx);
        for (const w of waiters) this.settleRead(w, new UnavailableError('the leader changed before the read was confirmed; retry'));
      }
      this.cfg.onSoftState?.(rd.softState.lead, rd.softState.state);
      const lead = rd.softState.lead;
      this.leaderWaiters = this.leaderWaiters.filter((w) => {
        if (w.to !== lead) return true;
        clearTimeout(w.timer);
        w.resolve(this.raw.status().term);
        return false;
      });
    }
  }

  /**
   * Committed conf changes take effect in the core as they are handed out for applying (the
   * core refuses a second change until then). Changes already in the configuration the core
   * started from (a replay after restart) are skipped.
   */
  private applyConfChanges(entries: readonly Entry[]): void {
    for (const e of entries) {
      const change = this.conf.changeIn(e);
      if (!change) continue;
      const r = this.raw.raft;
      const leaving = change.type === ConfChangeType.RemoveNode && change.nodeId !== this.id ? r.prs.progress.get(change.nodeId) : undefined;
      if (leaving && r.state === StateType.Leader) this.conf.farewell(change.nodeId, leaving.match, this.ticks + 4 * this.cfg.electionTimeoutTicks);
      this.raw.applyConfChange(toConfChange(change));
      this.conf.record(change, e.index);
      this.transport.setPeers(this.conf.peerAddresses());
    }
  }

  /** Leader: the commit index to removed followers (as far as each holds the log). */
  private sendFarewells(): void {
    if (!this.conf.owesFarewells) return;
    const r = this.raw.raft;
    const { due, expired } = this.conf.farewellsDue(this.ticks, (id) => r.state === StateType.Leader && !r.prs.progress.has(id));
    if (expired) this.transport.setPeers(this.conf.peerAddresses());
    if (this.ticks % this.cfg.heartbeatTimeoutTicks !== 0) return;
    this.transport.send(due.map((f) => message({ type: MessageType.Heartbeat, to: f.id, from: this.id, term: r.term, commit: Math.min(f.match, r.log.committed) })));
  }

  private onApplied(results: Applied[]): void {
    let removedAt = 0;
    for (const r of results) {
      if (r.origin === this.origin) this.settleProposal(r.seq, r.result);
      if (r.change) {
        this.cfg.onMembership?.(r.change, r.index, this.applier.members);
        if (r.change.type === ConfChangeType.RemoveNode && r.change.nodeId === this.id) removedAt = r.index;
      }
    }
    // Removed (and not added back later in the same batch): this node's part is over.
    if (removedAt > 0 && !isMember(this.applier.members, this.id) && !this.removed) {
      this.removed = true;
      this.failPending();
      this.cfg.onRemoved?.(removedAt);
    }
    this.maybeSnapshot();
  }

  /** Starts a background snapshot + compaction when enough was applied since the last one. */
  private maybeSnapshot(force = false): void {
    if (this.snapshotting || this.installing || this.stopped || this.fatal) return;
    const since = this.applier.applied - this.storage.snapshot().metadata.index;
    if (since < 1) return;
    if (!force && since < this.cfg.snapshotEntries && this.logBytesSinceSnapshot < this.cfg.snapshotLogBytes) return;
    this.logBytesSinceSnapshot = 0;
    this.snapshotting = (async () => {
      const started = performance.now();
      const meta = await this.snaps.create(this.currentEngine, (i) => this.storage.term(i), (i) => this.conf.confAt(i));
      // An install may have moved the log past it meanwhile: then this one is obsolete.
      if (meta.index > this.storage.snapshot().metadata.index && meta.index <= this.storage.lastIndex()) {
        await this.storage.compact(toRaftSnapshot(meta), this.cfg.snapshotCatchUpEntries);
        this.cfg.onSnapshot?.('created', meta.index, { ms: Math.round(performance.now() - started) });
      }
      this.pruneSnapshots();
    })()
      .catch((err: Error) => this.fail(err))
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /** Keeps the newest snapshot, and any being streamed. */
  private pruneSnapshots(): void {
    const newest = this.storage.snapshot().metadata.index;
    this.conf.prune(newest);
    for (const index of this.snaps.indexes()) if (index < newest && !this.streaming.has(index)) this.snaps.remove(index);
  }

  /** Leader: streams the snapshot of a MsgSnap to its follower and reports how it went. */
  private streamSnapshot(m: Message): void {
    if (m.snapshot!.data.length === 0) {
      // The bootstrap snapshot has no files: take a real one now; the core asks again after
      // the failure report, by when storage holds the new snapshot.
      this.maybeSnapshot(true);
      queueMicrotask(() => {
        if (this.stopped) return;
        this.raw.reportSnapshot(m.to, false);
        this.schedule();
      });
      return;
    }
    const index = snapshotIndexOf(m.snapshot!.data);
    const address = this.transport.addressOf(m.to);
    this.streaming.set(index, (this.streaming.get(index) ?? 0) + 1);
    const started = performance.now();
    const files = this.snaps.files(index);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const sent = address ? sendSnapshot(address, m, this.snaps.path(index), files) : Promise.reject(new Error(`no address for ${m.to}`));
    sent
      .then(
        () => {
          this.cfg.onSnapshot?.('sent', index, { to: m.to, bytes, ms: Math.round(performance.now() - started) });
          return true;
        },
        (err: Error) => {
          this.cfg.onSnapshot?.('send_failed', index, { to: m.to, error: err.message });
          return false;
        },
      )
      .then((ok) => {
        const left = (this.streaming.get(index) ?? 1) - 1;
        if (left > 0) this.streaming.set(index, left);
        else this.streaming.delete(index);
        if (this.stopped) return;
        this.raw.reportSnapshot(m.to, ok);
        this.schedule();
      });
  }

  /**
   * Follower: replaces the state machine and the log with a received snapshot (already sealed
   * on disk by the stream). Bracketed by the install marker; see snapshots.ts.
   */
  private async installSnapshot(snap: Snapshot): Promise<void> {
    const index = snap.metadata.index;
    const started = performance.now();
    this.installing = true;
    try {
      await this.snapshotting;
      await this.applier.idle();
      this.snaps.beginInstall(index);
      this.currentEngine.close();
      this.currentEngine = Engine.openFromCheckpoint(join(this.snaps.path(index), 'engine'), join(this.cfg.dataDir, 'engine'));
      this.applier.install(this.currentEngine, index, initialRecord(snap.metadata.confState));
      await this.storage.installSnapshot(snap);
      // The core took the snapshot's configuration; the record in the checkpoint matches it.
      this.conf.reset(this.applier.members, index, snap.metadata.confState);
      this.logBytesSinceSnapshot = 0;
      this.transport.setPeers(this.conf.peerAddresses());
      this.snaps.endInstall();
      this.cfg.onSnapshot?.('installed', index, { ms: Math.round(performance.now() - started) });
    } finally {
      this.installing = false;
    }
    this.pruneSnapshots();
  }

  /**
   * Removed: nothing will confirm what is waiting here. Reads were not served (retry
   * elsewhere); writes may still commit through the others, so their outcome is unknown.
   */
  private failPending(): void {
    for (const w of this.queuedReads.splice(0)) this.settleRead(w, new UnavailableError('this node was removed from the cluster; retry on a member'));
    for (const [ctx, waiters] of this.reads) {
      this.reads.delete(ctx);
      for (const w of waiters) this.settleRead(w, new UnavailableError('this node was removed from the cluster; retry on a member'));
    }
    this.queuedProposals = [];
    for (const [seq] of this.proposals) this.settleProposal(seq, undefined, new TimeoutError('this node was removed from the cluster before the write was confirmed; its outcome is unknown'));
  }

  private settleProposal(seq: number, result: ApplyResult | undefined, err?: Error): void {
    const w = this.proposals.get(seq);
    if (!w) return;
    this.proposals.delete(seq);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(result!);
  }

  private settleRead(w: Waiter<void>, err?: Error): void {
    if (w.done) return;
    w.done = true;
    clearTimeout(w.timer);
    this.readsPending--;
    if (err) w.reject(err);
    else w.resolve();
  }

  /**
   * What a request arriving after a fatal failure gets: it was never proposed, so it is known
   * not to be applied (503; the process is about to exit, retry elsewhere).
   */
  private stoppedByFailure(): UnavailableError {
    return new UnavailableError(`the node stopped after a storage failure (${(this.fatal as Error & { code?: string }).code ?? this.fatal!.message}); retry on another node`);
  }

  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    clearInterval(this.ticker);
    this.cfg.onFatal?.(err);
  }

  get isLeader(): boolean {
    return this.raw.raft.state === StateType.Leader;
  }
}
