/**
 * The Raft state machine (etcd's raft.go): pure and deterministic. Time is `tick()`, randomness
 * comes from `cfg.random`, input is `step(message)`, and output accumulates in `msgs` and
 * `readStates` for `RawNode` to hand out in a `Ready`.
 *
 * Invariants asserted here: applied <= committed <= lastIndex; at most one leader per term as
 * seen locally; a leader counts its own entries only once the driver reports them persisted.
 */
import { invariant } from './assert';
import { resolveConfig, type Config, type ResolvedConfig } from './config';
import { stepCandidate } from './step_candidate';
import { stepFollower } from './step_follower';
import { stepLeader } from './step_leader';
import { RaftLog } from './log';
import { ProgressState } from './progress';
import { ReadOnly } from './read_only';
import { releasePendingReadIndex } from './read_index';
import { LeaderLease } from './lease';
import { StorageError } from './storage';
import { ProgressTracker, VoteResult } from './tracker';
import {
  CampaignType,
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
  entryBytes,
  isEmptyHardState,
  message,
  voteRespType,
} from './types';

export type StepResult = 'ok' | 'dropped';

/** Vote requests of a leadership transfer carry this context and bypass the leader lease. */
export const TRANSFER_CONTEXT = new Uint8Array([0x54, 0x52, 0x41, 0x4e, 0x53, 0x46, 0x45, 0x52]); // "TRANSFER"

function isTransfer(ctx: Uint8Array | undefined): boolean {
  return ctx !== undefined && ctx.length === TRANSFER_CONTEXT.length && ctx.every((b, i) => b === TRANSFER_CONTEXT[i]);
}

export class Raft {
  readonly id: number;
  readonly cfg: ResolvedConfig;
  term = 0;
  vote = NONE;
  lead = NONE;
  state = StateType.Follower;
  readonly log: RaftLog;
  readonly prs: ProgressTracker;
  readonly readOnly: ReadOnly;
  readonly lease: LeaderLease;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Ticks since the last election timeout reset (followers: since hearing from the leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Ticks since this process started the core (`startupVoteFence`). */
  private ticksSinceStart = 0;
  randomizedElectionTimeout = 0;
  leadTransferee = NONE;
  /** Index of the latest conf change proposed; a new one waits until it is applied. */
  pendingConfIndex = 0;
  /** Bytes of proposed-but-uncommitted entries (leader only), bounded by uncommittedBytesMax. */
  uncommittedBytes = 0;
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** Reads were queued since the last heartbeat round that carried a read context. */
  readIndexRoundPending = false;
  /** Read rounds this leader sent in its term (numbers `Progress.readAckRound`). */
  readRoundsSent = 0;

  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(this.cfg.storage, this.cfg.committedBytesPerReadyMax);
    this.prs = new ProgressTracker(this.cfg.inflightMsgsMax, this.cfg.inflightBytesMax);
    this.readOnly = new ReadOnly(this.cfg.readIndexPendingMax);
    this.lease = new LeaderLease(this.cfg.leaseReadMs, this.cfg.nowMs);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.applyConfState(confState);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (this.cfg.applied > 0) this.log.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, NONE);
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private loadState(hs: HardState): void {
    invariant(hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(), () => `hard state commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- sending ----

  send(m: Message): void {
    // A forwarded transfer request names its transferee in `from` (etcd's convention).
    if (m.type !== MessageType.TransferLeader) m.from = this.id;
    const isVote = m.type === MessageType.Vote || m.type === MessageType.VoteResp || m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp;
    if (isVote) {
      invariant(m.term !== 0, () => `term should be set when sending ${m.type}`);
    } else {
      invariant(m.term === 0, () => `term should not be set when sending ${m.type} (was ${m.term})`);
      // Proposals and read requests forwarded to the leader travel as local messages.
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends a MsgApp (or a snapshot) to `to` if its progress allows. */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entries(pr.next, this.cfg.msgBytesMax);
    if (prevTerm === undefined || entries === undefined) return this.maybeSendSnapshot(to);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(message({ type: MessageType.App, to, from: this.id, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed }));
    let bytes = 0;
    for (const e of entries) bytes += entryBytes(e);
    pr.sentEntries(entries.length > 0 ? entries[entries.length - 1].index : prevIndex, entries.length, bytes);
    return true;
  }

  /** An append without entries at the follower's next-1, sent even when its window is full. */
  sendEmptyAppend(to: number): void {
    const pr = this.prs.progress.get(to);
    if (!pr) return;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      this.maybeSendSnapshot(to);
      return;
    }
    this.send(message({ type: MessageType.App, to, from: this.id, index: prevIndex, logTerm: prevTerm, commit: this.log.committed }));
  }

  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendSnapshot(to: number): boolean {
    const pr = this.prs.progress.get(to)!;
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'snapshot-temporarily-unavailable') return false;
      throw err;
    }
    invariant(snapshot.metadata.index !== 0, 'need a non-empty snapshot to catch up a follower');
    this.send(message({ type: MessageType.Snap, to, from: this.id, snapshot }));
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }

  /** An append to every follower; with `sendIfEmpty` false, only to those with entries to send. */
  bcastAppend(sendIfEmpty = true): void {
    for (const id of this.prs.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, sendIfEmpty);
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  /** Heartbeats carrying `ctx` to every member, or only to those in `to`. */
  bcastHeartbeatWithCtx(ctx: Uint8Array | undefined, to?: readonly number[]): void {
    const round = this.lease.sent();
    for (const [id, pr] of this.prs.progress) {
      if (id === this.id || (to !== undefined && !to.includes(id))) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send(message({ type: MessageType.Heartbeat, to: id, from: this.id, commit, context: ctx, index: round }));
    }
  }

  sendTimeoutNow(to: number): void {
    // The transferee's campaign bypasses the voters' lease: ours ends here.
    this.lease.revoke();
    this.send(message({ type: MessageType.TimeoutNow, to, from: this.id }));
  }

  // ---- state transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const lastIndex = this.log.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      pr.becomeProbe();
      pr.match = 0;
      pr.next = lastIndex + 1;
      pr.recentActive = id === this.id;
      pr.readAckRound = 0;
      // Our own progress counts only what is durable, not the unstable tail.
      if (id === this.id) pr.match = this.stableLastIndex();
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
    this.readIndexRoundPending = false;
    this.readRoundsSent = 0;
  }

  /** Last index known to be in storage (entries after it are still being persisted). */
  stableLastIndex(): number {
    return Math.min(this.cfg.storage.lastIndex(), this.log.unstable.offset - 1);
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.cfg.random.intn(this.cfg.electionTimeoutTicks);
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomeCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomePreCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // PreVote does not change the term or the vote: a disruptive node never bumps terms.
    this.prs.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    invariant(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.lease.reset();
    const self = this.prs.progress.get(this.id);
    if (self) self.becomeReplicate();
    // No conf change until an entry of this term commits (the dissertation's known fix): every
    // entry up to here may hold one.
    this.pendingConfIndex = this.log.lastIndex();
    // An empty entry of our term: once it commits, so does everything before it (§5.4.2), and
    // ReadIndex may be served.
    const ok = this.appendEntry([{ index: 0, term: 0, type: EntryType.Normal, data: new Uint8Array() }]);
    invariant(ok, 'the empty leader entry is never dropped');
  }

  // ---- time ----

  tick(): void {
    this.ticksSinceStart++;
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, to: this.id, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, to: this.id, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTimeoutTicks) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, to: this.id, from: this.id }));
    }
  }

  /** Can this node become leader? Voters only, and not while installing a snapshot. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstable.snapshot === undefined;
  }

  // ---- elections ----

  hup(transfer: boolean): void {
    if (this.state === StateType.Leader || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(transfer ? CampaignType.Transfer : this.cfg.preVote ? CampaignType.PreElection : CampaignType.Election);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER) ?? [];
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  campaign(kind: CampaignType): void {
    let voteMsg: MessageType;
    let term: number;
    if (kind === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      term = this.term + 1; // the term we would campaign in, without adopting it yet
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === VoteResult.Won) {
      if (kind === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    for (const id of this.prs.voters) {
      if (id === this.id) continue;
      const context = kind === CampaignType.Transfer ? TRANSFER_CONTEXT : undefined;
      this.send(message({ type: voteMsg, to: id, from: this.id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context }));
    }
  }

  poll(id: number, _type: MessageType, granted: boolean): VoteResult {
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---- the step function ----

  step(m: Message): StepResult {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const heard = this.lead !== NONE && this.electionElapsed < this.cfg.electionTimeoutTicks;
        const fenced = this.cfg.startupVoteFence && this.ticksSinceStart < this.cfg.electionTimeoutTicks;
        const inLease = this.cfg.checkQuorum && (heard || fenced);
        // We heard from a live leader within the election timeout (or, fenced, may have just
        // before a restart): ignore a disruptive campaign. A leader's read lease relies on it.
        if (!isTransfer(m.context) && inLease) return 'ok';
      }
      if (m.type === MessageType.PreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // We adopt the term when the pre-election succeeds.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term !== 0 && m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. after a partition) learns our term and steps down.
        this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id }));
      } else if (m.type === MessageType.PreVote) {
        this.send(message({ type: MessageType.PreVoteResp, to: m.from, from: this.id, term: this.term, reject: true }));
      }
      return 'ok';
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return 'ok';
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return 'ok';
      default:
        switch (this.state) {
          case StateType.Leader:
            return stepLeader(this, m);
          case StateType.Candidate:
          case StateType.PreCandidate:
            return stepCandidate(this, m);
          case StateType.Follower:
            return stepFollower(this, m);
        }
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      // A PreVote for a future term is granted whenever the log is up to date.
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(message({ type: voteRespType(m.type), to: m.from, from: this.id, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: voteRespType(m.type), to: m.from, from: this.id, term: this.term, reject: true }));
    }
  }

  // ---- log handling shared by the roles ----

  /** Leader: assigns indexes and the current term, respecting uncommittedBytesMax. */
  appendEntry(es: Entry[]): boolean {
    let li = this.log.lastIndex();
    let bytes = 0;
    for (const e of es) bytes += e.data.length;
    if (this.cfg.uncommittedBytesMax > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      return false;
    }
    this.uncommittedBytes += bytes;
    for (const e of es) {
      e.term = this.term;
      e.index = ++li;
    }
    this.log.append(es);
    return true;
  }

  reduceUncommittedBytes(entries: Entry[]): void {
    if (this.uncommittedBytes === 0) return;
    let bytes = 0;
    for (const e of entries) bytes += e.data.length;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** The driver made entries through (index, term) durable. */
  onPersisted(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.state !== StateType.Leader || this.log.term(index) !== term) return;
    const self = this.prs.progress.get(this.id);
    if (self && self.maybeUpdate(index) && this.maybeCommit()) this.onCommitAdvanced();
  }

  /** Commit what a quorum holds, if it is of the current term (Figure 8). */
  maybeCommit(): boolean {
    return this.log.maybeCommit(this.prs.committed(), this.term);
  }

  /**
   * Tells the followers the new commit index. While entries past it are still in flight, the
   * next acknowledgement advances it again and new entries carry it anyway: only non-empty
   * appends go out then, and the commit-only one once the log is committed to its end (under
   * a steady write load half the leader's appends were commit-only, each a frame and an answer).
   * A follower that hears no more from it learns the commit from the next heartbeat.
   */
  onCommitAdvanced(): void {
    releasePendingReadIndex(this);
    this.bcastAppend(this.log.committed === this.log.lastIndex());
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id, index: lastNew }));
      return;
    }
    // Reject with a hint: the last index at or below m.index whose term is <= m.logTerm.
    let hintIndex = Math.min(m.index, this.log.lastIndex());
    hintIndex = this.log.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }));
  }

  handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    // The round number goes back: it dates this answer for the leader's lease.
    this.send(message({ type: MessageType.HeartbeatResp, to: m.from, from: this.id, context: m.context, index: m.index }));
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    invariant(s !== undefined, 'MsgSnap without a snapshot');
    if (this.restore(s)) {
      this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id, index: this.log.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id, index: this.log.committed }));
    }
  }

  /** Installs a snapshot from the leader unless we already have what it covers. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.log.committed) return false;
    invariant(this.state === StateType.Follower, 'only followers restore snapshots');
    const cs = s.metadata.confState;
    // The snapshot may predate this node's (re-)addition: its configuration then lacks us, and
    // the change adding us follows in the log. Install it anyway — refusing would leave the
    // leader resending the same snapshot forever (found by the simulator). Not being in our own
    // configuration only means we cannot campaign (promotable() is false) until we are added.
    if (this.log.matchTerm(s.metadata.index, s.metadata.term)) {
      // We hold the snapshot's last entry: fast-forward the commit index instead.
      this.log.commitTo(s.metadata.index);
      return false;
    }
    this.log.restore(s);
    this.prs.voters.clear();
    this.prs.learners.clear();
    this.prs.progress.clear();
    this.applyConfState(cs);
    return true;
  }

  // ---- membership ----

  private applyConfState(cs: ConfState): void {
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.prs.addNode(id, next, false);
    for (const id of cs.learners) this.prs.addNode(id, next, true);
  }

  /** Applies a committed conf change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case ConfChangeType.AddNode:
        this.prs.addNode(cc.nodeId, next, false);
        break;
      case ConfChangeType.AddLearnerNode:
        this.prs.addNode(cc.nodeId, next, true);
        break;
      case ConfChangeType.RemoveNode:
        this.prs.removeNode(cc.nodeId);
        if (cc.nodeId === this.leadTransferee) this.abortLeaderTransfer();
        break;
    }
    if (this.state === StateType.Leader) {
      if (!this.prs.progress.has(this.id)) {
        // A leader removed from the configuration steps down; the rest elect a new one.
        this.becomeFollower(this.term, NONE);
      } else if (this.maybeCommit()) {
        this.onCommitAdvanced();
      } else {
        this.bcastAppend();
      }
    }
    return this.prs.confState();
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Progress state of a peer as the leader sees it (for status and tests). */
  progressOf(id: number): { match: number; next: number; state: ProgressState } | undefined {
    const pr = this.prs.progress.get(id);
    return pr ? { match: pr.match, next: pr.next, state: pr.state } : undefined;
  }
}
