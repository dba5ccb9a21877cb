/**
 * The driver: owns the pure Raft core and does its I/O in Raft's order (ARCHITECTURE.md,
 * "One node"). This file is the Ready loop and the node's public surface; its rooms are `bootstrap.ts`
 * (opening the data directory), `admission.ts` (whether a request may enter), `waiters.ts` (requests
 * in flight), `snapshot_lifecycle.ts` (create, stream, install, prune), `conf_tracker.ts` (membership
 * as the core has it, farewells, removal notices), `membership_wire.ts` (conf changes taking effect,
 * farewells and notices sent) and `applier.ts` (async apply). The core is reached only through
 * `RawNode`'s methods and its read-only `status()`.
 *
 *   r = core.ready()
 *   1. leader's appends/heartbeats leave at once (in parallel with its own write)
 *   2. read states wait for applied ≥ index        — not for this Ready's fsync
 *   3. applier.push(r.committedEntries)            — durable already: they apply meanwhile
 *   4. wal.append(r.entries, r.hardState) issued; core.accept(r); the next Ready may be taken
 *   5. once that write and all earlier ones are durable: core.persisted(r), and every other
 *      message leaves (votes, acks: only after they are durable) — ready_io.ts
 * A Ready with a snapshot or a membership change waits for the writes in flight and is handled
 * in that order, the classic way (`advance` after its fsync). The I/O itself: `ready_io.ts`.
 *
 * Batching: proposals and linearizable reads arriving in one event-loop turn become one MsgProp
 * and one ReadIndex request. Limits: `proposalsPerTurnMax` (one MsgProp), `proposalsPendingMax`
 * and `readsPendingMax` (in flight, see waiters.ts), the applier's backlog (applier.ts). A WAL or
 * engine failure is fatal: `onFatal` is called and the node stops driving the core.
 *
 * Removal: a node that applies its own removal reports it (`onRemoved`). One that never could (it
 * lagged, or was down, when it was removed) keeps talking to the others; any member that hears
 * from a node its membership record says was removed answers with a `MsgRemoved` notice naming
 * the removal's index, and the node stops as if it had applied it (etcd does the same).
 */
import { randomInt } from 'node:crypto';
import { QuorumError, TimeoutError, UnavailableError } from '../errors';
import type { Engine, Wal, WalInfo } from '../native';
import { invariant } from '../raft/assert';
import { mulberry32 } from '../raft/random';
import { ProposalDroppedError, type ProgressStatus, RawNode } from '../raft/rawnode';
import { ConfChangeType, type Entry, type Message, MessageType, StateType } from '../raft/types';
import { type PeerAddress, PeerTransport } from '../transport/peer';
import type { ChangeFeed } from './change_feed';
import { admissionError } from './admission';
import { type Applied, type ApplyResult, Applier } from './applier';
import { BOOTSTRAP_INDEX, openStorage, resumeIndex } from './bootstrap';
import { DEFAULTS, type NodeStatus, type RaftNodeConfig, type ResolvedConfig } from './config';
import { type Command, encodeCommand } from './commands';
import { SpaceGuard } from './space_guard';
import { TtlExpiry } from './ttl_expiry';
import { MdRetention } from './md_retention';
import { ConfTracker } from './conf_tracker';
import { ReadRounds } from './read_rounds';
import { leaseDurationMs } from '../raft/lease';
import { MembershipWire } from './membership_wire';
import { checkMemberChange, decodeMemberChange, encodeMemberChange, isMember, listMembers, type MemberIntent, type MemberListing, type MembersRecord, toConfChange } from './membership';
import { ReadyIo } from './ready_io';
import type { WalStorage } from './raft_storage';
import { type EngineMaintenance, type SnapshotHost, SnapshotLifecycle } from './snapshot_lifecycle';
import type { SnapshotStore } from './snapshots';
import type { NodeObserver } from './observer';
import { RequestWaiters } from './waiters';

export { BOOTSTRAP_INDEX, type NodeStatus, type RaftNodeConfig };

export class RaftNode {
  readonly id: number;
  private readonly raw: RawNode;
  private readonly transport: PeerTransport;
  private readonly applier: Applier;
  private readonly cfg: ResolvedConfig;
  private readonly waiters: RequestWaiters;
  private readonly snapshots: SnapshotLifecycle;
  /** The membership as the Raft core has it (ahead of the applier's record until applied). */
  private readonly conf: ConfTracker;
  private readonly wire: MembershipWire;
  private readonly reads: ReadRounds;
  /** A Ready's I/O in Raft's order, with writes pipelined (≤ writesInFlightMax in flight). */
  private readonly readyIo: ReadyIo;
  /** The state machine; replaced only by a snapshot install (between Readies). */
  private currentEngine: Engine;
  private ticker: NodeJS.Timeout | undefined;
  /** A run of the Ready loop is scheduled (setImmediate) and has not started. */
  private scheduled = false;
  /** The Ready loop is running; at most one run at a time. */
  private running = false;
  /** Something asked for a run while one was running: run again when it ends. */
  private rerun = false;
  /** close() was called: no new work starts; set once, never cleared. */
  private stopped = false;
  /** The first storage failure; once set, the core is never driven again. */
  private fatal: Error | undefined;
  /** This node is no longer a member (it applied or was told of its removal); set once. */
  private removed = false;
  /** The last request number handed out; each proposal gets the next (never reused in a run). */
  private seq = 0;
  /** Marks this run's proposals (commands.ts): random per start, 1 in 2^32 to collide. */
  private readonly origin = randomInt(1, 2 ** 32);
  /** The health monitor's and the metrics' hooks (none by default). */
  private observer: NodeObserver = {};
  private lastLeader = 0;
  /** Proposals accepted this turn, not yet handed to the core (≤ proposalsPerTurnMax). */
  private queuedProposals: { seq: number; payload: Buffer }[] = [];
  /** Membership changes accepted this turn (one MsgProp each). */
  private queuedConfChanges: { seq: number; payload: Buffer }[] = [];
  /** Ticks since start (the clock of farewells and removal notices). */
  private ticks = 0;
  /** Timed proposals: key expiries and market-data retention (the leader's), the disk alarm (every member's: `space`). */
  private readonly chores: { tick(ticks: number): void }[];
  readonly space: SpaceGuard;

  private constructor(
    cfg: RaftNodeConfig,
    private readonly wal: Wal,
    engine: Engine,
    private readonly storage: WalStorage,
    snaps: SnapshotStore,
    snapshotMembers: MembersRecord,
    /** The cluster this node belongs to (cluster_id.ts); peers of another are refused. */
    readonly clusterId: string,
  ) {
    this.cfg = { ...DEFAULTS, ...cfg };
    this.id = cfg.id;
    this.currentEngine = engine;
    this.waiters = new RequestWaiters(this.cfg);
    this.applier = new Applier(engine, snapshotMembers, (results, lastTerm) => this.onApplied(results, lastTerm), (err) => this.fail(err), this.cfg.applyBacklogBytesMax, this.cfg.watchHistoryMax);
    const leading = () => this.isLeader;
    this.space = new SpaceGuard(this.cfg, () => this.applier.members, (c) => this.propose(c), () => this.snapshots.maybeCreate(true));
    this.chores = [new TtlExpiry(this.applier.ttl, leading, (c) => this.propose(c)), new MdRetention(cfg.mdRetentionNs, () => this.market.newestTsEvent, leading, (c) => this.propose(c)), this.space];
    // The core starts from the configuration at the engine's applied index (see bootstrap.ts).
    this.conf = new ConfTracker(this.applier.members, cfg.id, cfg.members);
    this.raw = new RawNode({
      id: cfg.id, storage,
      random: mulberry32(randomInt(2 ** 31)),
      electionTimeoutTicks: this.cfg.electionTimeoutTicks, heartbeatTimeoutTicks: this.cfg.heartbeatTimeoutTicks,
      // Every member fences its votes after a restart, so any member's lease is sound.
      leaseReadMs: this.cfg.readLease ? leaseDurationMs(this.cfg.tickMs, this.cfg.electionTimeoutTicks) : 0, startupVoteFence: true,
      applied: resumeIndex(this.applier.applied, storage),
    });
    this.snapshots = new SnapshotLifecycle(this.snapshotHost(snaps), this.cfg);
    this.transport = this.createTransport();
    this.wire = new MembershipWire(this.id, this.raw, this.conf, this.transport, this.cfg);
    this.reads = new ReadRounds(this.id, this.raw, this.waiters, this.applier, (messages) => this.transport.send(messages));
    this.readyIo = this.createReadyIo();
  }

  /** Opens (or creates) the node's WAL and engine under `dataDir`. */
  static async open(cfg: RaftNodeConfig): Promise<RaftNode> {
    if (!cfg.members.has(cfg.id)) throw new QuorumError('INVALID_CONFIG', `node ${cfg.id} has no peer address among the members`);
    const opened = await openStorage({ ...cfg, joining: cfg.joining ?? false, walBackend: cfg.walBackend ?? DEFAULTS.walBackend });
    const node = new RaftNode(cfg, opened.wal, opened.engine, opened.storage, opened.snaps, opened.snapshotMembers, opened.clusterId);
    await node.applier.loadState();
    return node;
  }

  private snapshotHost(snaps: SnapshotStore): SnapshotHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    return {
      dataDir: this.cfg.dataDir,
      engineOptions: { writeBufferBytes: this.cfg.memtableBytes },
      storage: this.storage,
      snaps,
      applier: this.applier,
      conf: this.conf,
      get engine() {
        return node.currentEngine;
      },
      set engine(e: Engine) {
        node.currentEngine = e;
      },
      halted: () => this.stopped || this.fatal !== undefined,
      addressOf: (id) => this.transport.addressOf(id),
      peerTls: this.cfg.peerTls,
      clusterId: this.clusterId,
      reportSnapshot: (to, ok) => {
        this.raw.reportSnapshot(to, ok);
        this.schedule();
      },
      peersChanged: () => this.transport.setPeers(this.conf.peerAddresses()),
      fail: (err) => this.fail(err),
      onSnapshot: (event, index, detail) => {
        if (event === 'sent') this.observer.snapshotSent?.();
        this.cfg.onSnapshot?.(event, index, detail);
      },
    };
  }

  private createReadyIo(): ReadyIo {
    return new ReadyIo(
      {
        raw: this.raw, storage: this.storage, transport: this.transport, reads: this.reads, snapshots: this.snapshots,
        observer: () => this.observer,
        handOut: (committed) => this.handOut(committed),
        onSoftState: (lead, state) => this.onSoftState(lead, state),
        halted: () => this.fatal !== undefined,
        fail: (err) => this.fail(err),
        schedule: () => this.schedule(),
      },
      this.cfg.writesInFlightMax,
    );
  }

  private createTransport(): PeerTransport {
    const self = this.cfg.members.get(this.id)!;
    return new PeerTransport({
      id: this.id,
      clusterId: this.clusterId,
      listen: self,
      peers: this.conf.peerAddresses(),
      onMessages: (msgs) => this.onMessages(msgs),
      onProtocolError: this.cfg.onPeerProtocolError,
      tls: this.cfg.peerTls,
      onUnreachable: (id) => {
        this.raw.reportUnreachable(id);
        this.schedule();
      },
      snapshots: this.snapshots.receiver(this.cfg.snapshotBytesMax, (msg) => this.onMessages([msg])),
    });
  }

  /** Key reads and scans at the applied index, through the read cache (after a read barrier: linearizable), and the keys' TTLs. */
  get keys(): Pick<Applier, 'readItems' | 'readWithExpiry' | 'answerItems' | 'multiGetAnswer' | 'scan' | 'count' | 'ttl'> {
    return this.applier;
  }

  /** The WAL's write + fdatasync path in use, and why `auto` fell back to pwrite if it did. */
  get walBackend(): Pick<WalInfo, 'backend' | 'fallbackReason'> {
    const { backend, fallbackReason } = this.wal.info();
    return { backend, fallbackReason };
  }

  /** The state machine (replaced when a snapshot is installed). */
  get engine(): Engine {
    return this.currentEngine;
  }

  /** Installs the health monitor's and the metrics' hooks (replacing earlier ones). */
  observe(observer: NodeObserver): void {
    this.observer = observer;
    this.waiters.onProposalSettled = observer.proposalSettled?.bind(observer);
    this.waiters.onReadRound = observer.readIndex?.bind(observer);
  }

  /** Test-only disk stall (refused with WAL_INVALID_ARGUMENT unless the WAL allows it). */
  stallWal(delayMs: number, durationMs: number): void {
    this.wal.setSyncStall(delayMs, durationMs);
  }

  /**
   * Requests accepted and not yet answered (proposals, linearizable reads), and the ReadIndex
   * rounds this follower asked for again since start.
   */
  get requests(): { proposalsPending: number; readsPending: number; readIndexRetries: number } {
    return { proposalsPending: this.waiters.proposalCount, readsPending: this.waiters.readCount, readIndexRetries: this.reads.retries };
  }

  /** Whether this node holds an open connection to each other member. */
  peerReachability(): { peer: number; up: boolean }[] {
    const out: { peer: number; up: boolean }[] = [];
    for (const id of this.conf.peerAddresses().keys()) if (id !== this.id) out.push({ peer: id, up: this.transport.isUp(id) });
    return out;
  }

  get isLeader(): boolean {
    return this.raw.isLeader;
  }

  /** Every KV change in apply order, for watchers. */
  get feed(): ChangeFeed {
    return this.applier.feed;
  }

  /** Market data as of the applied index (books, producers, gaps). */
  get market(): Applier['market'] {
    return this.applier.market;
  }

  /** Tokens and roles as of the applied index. */
  get auth(): Applier['auth'] {
    return this.applier.auth;
  }

  /** Starts the peer listener, the tick timer and the core. Resolves to the peer port. */
  async start(): Promise<number> {
    const port = await this.transport.start();
    this.ticker = setInterval(() => this.tick(), this.cfg.tickMs);
    // Replay committed-but-unapplied entries and pending Readies from before a restart.
    this.schedule();
    return port;
  }

  private tick(): void {
    this.ticks++;
    this.raw.tick();
    this.reads.retry();
    this.wire.sendFarewells(this.ticks);
    if (this.conf.expireNotices(this.ticks)) this.transport.setPeers(this.conf.peerAddresses());
    for (const chore of this.chores) chore.tick(this.ticks);
    this.schedule();
  }

  /** Leader only: each member's replication progress (empty on any other node). */
  replication(): ReadonlyMap<number, ProgressStatus> {
    return this.raw.status().progress;
  }

  status(): NodeStatus {
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

  /** Why a request cannot enter now (stopped, failed, removed, overloaded), if it cannot. */
  private refusal(kind: 'write' | 'read' | 'control'): Error | undefined {
    return admissionError({
      kind,
      fatal: this.fatal,
      stopped: this.stopped,
      removed: this.removed,
      applyOverloaded: this.applier.overloaded,
      proposals: () => this.waiters.admitProposal() ?? (this.queuedProposals.length >= this.cfg.proposalsPerTurnMax ? new UnavailableError('too many writes this turn; retry', 'overloaded') : undefined),
      reads: () => this.waiters.admitRead(),
    });
  }

  /** Proposes a command; resolves with its result once applied here. */
  propose(command: Omit<Command, 'origin' | 'seq'>): Promise<ApplyResult> {
    const refused = this.refusal('write') ?? this.space.refusal(command);
    if (refused) return Promise.reject(refused);
    const seq = ++this.seq;
    const payload = encodeCommand({ ...command, origin: this.origin, seq });
    const answer = this.waiters.proposal(seq, 'the write');
    this.queuedProposals.push({ seq, payload });
    this.schedule();
    return answer;
  }

  /**
   * Resolves when local state reflects every write acknowledged before the call (ReadIndex).
   * `keys`: how many keys the caller then reads (confirmed reads are served in slices by them).
   */
  readBarrier(keys = 1): Promise<void> {
    const refused = this.refusal('read');
    if (refused) return Promise.reject(refused);
    const answer = this.waiters.read(keys);
    this.schedule();
    return answer;
  }

  /**
   * Asks the leader to hand leadership to voter `to` (it catches `to` up, then tells it to
   * campaign at once) and resolves with the term once this node sees `to` lead.
   */
  transferLeadership(to: number, timeoutMs = 4 * this.cfg.electionTimeoutTicks * this.cfg.tickMs): Promise<number> {
    const refused = this.refusal('control');
    if (refused) return Promise.reject(refused);
    const st = this.raw.status();
    if (st.lead === to) return Promise.resolve(st.term);
    if (st.lead === 0) return Promise.reject(new UnavailableError('no leader to hand over from; retry'));
    const answer = this.waiters.leader(to, timeoutMs);
    this.raw.transferLeader(to);
    this.schedule();
    return answer;
  }

  /** Leader: the voter with the most of the log (the cheapest to hand leadership to). */
  bestTransferee(): number | undefined {
    return this.raw.bestTransferee();
  }

  /** The membership as of this node's applied index. */
  members(): MembersRecord {
    return this.applier.members;
  }

  /** Engine work beside applying: backups' checkpoints (full) and committed log (continuous), a defrag. */
  get maintenance(): EngineMaintenance {
    return this.snapshots;
  }

  /** The members with their role and addresses (`selfClient`: this node's client address). */
  memberList(selfClient?: PeerAddress): MemberListing[] {
    return listMembers(this.applier.members, this.cfg.members, this.id, selfClient);
  }

  /**
   * Adds a member (a learner, or a voter), promotes a learner or removes a member, by one
   * single-server change through the log; resolves with the membership once the change is
   * applied here. Checked up front (`checkMemberChange`) and refused when another change is
   * still pending (the core allows one at a time).
   */
  async changeMembership(intent: MemberIntent, nodeId: number, addresses: { peer?: string; client?: string } = {}): Promise<MembersRecord> {
    const refused = this.refusal('write');
    if (refused) throw refused;
    const type = checkMemberChange(this.applier.members, intent, nodeId, addresses.peer);
    const st = this.raw.status();
    if (st.state === StateType.Leader && st.pendingConfIndex > st.applied) {
      throw new QuorumError('membership_change_pending', `the change at index ${st.pendingConfIndex} is not applied yet; one change at a time`);
    }
    const seq = ++this.seq;
    const payload = encodeMemberChange({ type, nodeId, origin: this.origin, seq, peer: addresses.peer ?? '', client: addresses.client ?? '' });
    const answer = this.waiters.proposal(seq, 'the membership change');
    this.queuedConfChanges.push({ seq, payload });
    this.schedule();
    const result = await answer;
    invariant(result.kind === 'member', () => `a membership change applied as ${result.kind}`);
    return result.members;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.applier.feed.endAll('the node is stopping');
    this.applier.market.stream.endAll('the node is stopping');
    clearInterval(this.ticker);
    await this.transport.close();
    while (this.running) await new Promise((r) => setImmediate(r));
    await this.readyIo.drained();
    if (!this.fatal) await this.readyIo.writeCommit().catch((err: Error) => this.fail(err));
    await this.applier.idle();
    this.waiters.dropLeaderWaiters();
    // These may still commit (through another leader, or after a restart): unknown, not failed.
    this.waiters.failProposals(() => new TimeoutError('the node stopped before the write was confirmed; its outcome is unknown'));
    await this.snapshots.idle();
    this.wal.close();
    this.currentEngine.close();
  }

  // ---- the Ready loop ----

  private onMessages(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      if (m.type === MessageType.Removed) this.onRemovalNotice(m);
      else if (!this.wire.noticeRemoved(m, this.ticks)) this.raw.step(m);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped || this.fatal) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // A Ready is being persisted: the read path need not wait for it (see `takeUrgent`).
      if (this.running && !this.fatal) {
        try {
          this.reads.expedite();
        } catch (err) {
          this.fail(err as Error);
        }
      }
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
      // Requests that arrived while the previous Ready was being persisted join the next one. None after close() began: it closes the WAL once this loop is idle, and a turn already queued must not persist to it.
      while (!this.fatal && !this.stopped) {
        // The applier is behind by more than its limit: hand out nothing more until it drains.
        if (this.applier.overloaded) await this.applier.drained();
        this.flushConfChanges();
        this.flushProposals();
        this.reads.flush();
        if (!this.raw.hasReady()) break;
        if (this.readyIo.full) {
          await this.readyIo.room();
          continue;
        }
        await this.readyIo.handle(this.raw.ready());
        this.checkInvariants();
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

  /** Asserted after every Ready: a broken rule stops the node loudly. */
  private checkInvariants(): void {
    const [applied, commit, last] = [this.raw.applied, this.raw.committed, this.raw.lastIndex];
    invariant(applied <= commit && commit <= last, () => `applied ${applied} ≤ commit ${commit} ≤ last ${last} broken`);
    // The engine may be ahead of the core after a restart (commit-only hard states are not
    // written as they happen), but never of the log.
    invariant(this.applier.applied <= Math.max(last, this.storage.snapshot().metadata.index), () => `the engine applied ${this.applier.applied} beyond the log (last ${last})`);
    invariant(this.queuedProposals.length <= this.cfg.proposalsPerTurnMax, 'queued proposals within proposalsPerTurnMax');
    const waiters = this.waiters.checkInvariants();
    invariant(waiters === undefined, () => waiters!);
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
      for (const p of batch) this.waiters.settleProposal(p.seq, undefined, new UnavailableError('no leader to accept the write; retry'));
    }
    this.waiters.handedOff(batch.map((p) => p.seq), this.raw.term);
  }

  private flushConfChanges(): void {
    for (const c of this.queuedConfChanges.splice(0)) {
      try {
        this.raw.proposeConfChange(toConfChange(decodeMemberChange(c.payload)), () => c.payload);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        this.waiters.settleProposal(c.seq, undefined, new UnavailableError('no leader to accept the membership change; retry'));
      }
    }
  }

  private handOut(committed: Entry[]): void {
    this.wire.applyConfChanges(committed, this.ticks);
    for (const e of committed) this.snapshots.handedOut(e.data.length);
    this.applier.push(committed);
  }

  private onSoftState(lead: number, state: StateType): void {
    // Reads waiting on a leader that is gone (or on this node's lost leadership) will never be
    // confirmed: fail them now as retryable rather than at the request timeout. Those sent to
    // the leader the core knows now, in its term, wait on (this report comes after an fsync).
    const now = this.raw.lead === 0 ? undefined : { lead: this.raw.lead, term: this.raw.term };
    this.waiters.failSentReads(() => new UnavailableError('the leader changed before the read was confirmed; retry'), now);
    if (lead !== this.lastLeader) {
      this.lastLeader = lead;
      this.observer.leaderChanged?.();
    }
    this.cfg.onSoftState?.(lead, state);
    this.waiters.leaderChanged(lead, this.raw.status().term);
  }

  // ---- membership: removal (changes, farewells and notices: membership_wire.ts) ----
  /**
   * A member says this node was removed at `m.index`. Believed only if this node knows no
   * configuration change at or after that index (a later one would have re-added it) and has a
   * configuration at all (a fresh joiner waiting for its snapshot cannot have been removed).
   */
  private onRemovalNotice(m: Message): void {
    const known = this.conf.current;
    if (m.to !== this.id || this.removed || known.confIndex >= m.index) return;
    if (known.voters.length + known.learners.length === 0) return;
    this.becomeRemoved(m.index);
  }

  private onApplied(results: Applied[], lastTerm: number): void {
    let removedAt = 0;
    for (const r of results) {
      if (r.origin === this.origin) this.waiters.settleProposal(r.seq, r.result);
      if (r.change) {
        this.cfg.onMembership?.(r.change, r.index, this.applier.members);
        if (r.change.type === ConfChangeType.RemoveNode && r.change.nodeId === this.id) removedAt = r.index;
      }
    }
    this.waiters.appliedTerm(lastTerm);
    // Removed (and not added back later in the same batch): this node's part is over.
    if (removedAt > 0 && !isMember(this.applier.members, this.id)) this.becomeRemoved(removedAt);
    this.snapshots.maybeCreate();
  }

  /**
   * Nothing will confirm what is waiting here. Reads were not served (retry elsewhere); writes
   * may still commit through the others, so their outcome is unknown.
   */
  private becomeRemoved(index: number): void {
    if (this.removed) return;
    this.removed = true;
    this.waiters.failReads(() => new UnavailableError('this node was removed from the cluster; retry on a member'));
    this.queuedProposals = [];
    this.waiters.failProposals(() => new TimeoutError('this node was removed from the cluster before the write was confirmed; its outcome is unknown'));
    this.applier.feed.endAll('this node was removed from the cluster');
    this.applier.market.stream.endAll('this node was removed from the cluster');
    this.cfg.onRemoved?.(index);
  }

  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    clearInterval(this.ticker);
    this.cfg.onFatal?.(err);
  }
}
