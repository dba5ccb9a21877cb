/**
 * The requests a node has accepted and not yet answered: proposals waiting to be applied, reads
 * waiting for their ReadIndex, callers waiting for a leadership transfer. Each has a timer; a
 * request is settled exactly once (answered, failed, or timed out).
 *
 * Limits: `proposalsPendingMax` proposals and `readsPendingMax` reads at once, counted from
 * acceptance to settlement; past them `admitProposal`/`admitRead` say `overloaded`.
 */
import { QuorumError, TimeoutError, UnavailableError } from '../errors';
import type { ApplyResult } from './applier';

/**
 * How long a proposal of an old term may still be applied (its message forwarded on to the new
 * leader: one append and one commit round there, milliseconds) before it fails as
 * `leader_changed`; 1/20 of the default request timeout.
 */
export const LEADER_CHANGED_GRACE_MS = 250;

/** A leader and the term it leads (or led) in. */
export interface LeaderTerm {
  lead: number;
  term: number;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** Set once settled: a waiter is resolved or rejected at most once. */
  done: boolean;
}

/** A read waiting for its ReadIndex; `keys`: how many keys it reads (≥ 1; serving is sliced by them). */
export type ReadWaiter = Waiter<void> & { keys: number };

export interface WaiterLimits {
  requestTimeoutMs: number;
  proposalsPendingMax: number;
  readsPendingMax: number;
}

export class RequestWaiters {
  /** Proposals by their seq; every entry is unsettled (settling removes it). */
  private readonly proposals = new Map<number, Waiter<ApplyResult>>();
  /**
   * The term each unsettled proposal was handed to the core in, in hand-off order — so terms
   * never decrease along the map (a node's term only grows).
   */
  private readonly proposedTerms = new Map<number, number>();
  /** Reads accepted this turn, not yet handed to the core (one ReadIndex request for all). */
  private queuedReads: ReadWaiter[] = [];
  /** Reads handed to the core, by their ReadIndex context, with the leader and term they went to. */
  private readonly reads = new Map<string, { waiters: ReadWaiter[]; sentMs: number; lastSentMs: number; to: LeaderTerm }>();
  /** Unsettled reads, queued or handed out: ≤ `readsPendingMax`. */
  private readsPending = 0;
  /** Callers of a leadership transfer waiting for `to` to lead. */
  private leaderWaiters: { to: number; resolve: (term: number) => void; timer: NodeJS.Timeout }[] = [];

  /** Told of every proposal answered (the metrics count them). */
  onProposalSettled: ((err: Error | undefined) => void) | undefined;
  /** Told of every confirmed ReadIndex round's time, ms (a health signal). */
  onReadRound: ((ms: number) => void) | undefined;

  constructor(private readonly limits: WaiterLimits) {}

  get proposalCount(): number {
    return this.proposals.size;
  }

  get readCount(): number {
    return this.readsPending;
  }

  /** Why a new proposal cannot be accepted now, if it cannot. */
  admitProposal(): Error | undefined {
    if (this.proposals.size >= this.limits.proposalsPendingMax) return new UnavailableError(`${this.proposals.size} writes are pending (the most is ${this.limits.proposalsPendingMax}); retry`, 'overloaded');
    return undefined;
  }

  admitRead(): Error | undefined {
    if (this.readsPending >= this.limits.readsPendingMax) return new UnavailableError(`${this.readsPending} reads are pending (the most is ${this.limits.readsPendingMax}); retry`, 'overloaded');
    return undefined;
  }

  /** Waits for proposal `seq` to be applied here (or to time out: outcome unknown). */
  proposal(seq: number, what: string): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => this.settleProposal(seq, undefined, new TimeoutError(`${what} not confirmed in time; its outcome is unknown`)), this.limits.requestTimeoutMs);
      this.proposals.set(seq, { resolve, reject, timer, done: false });
    });
  }

  /** Proposals `seqs` went to the core (to this leader, or forwarded to the leader) in `term`. */
  handedOff(seqs: readonly number[], term: number): void {
    for (const seq of seqs) if (this.proposals.has(seq)) this.proposedTerms.set(seq, term);
  }

  /**
   * An entry of `term` was applied: a proposal handed off in an earlier term and not applied by
   * now will not be applied at its place in the log — entries of a term all precede those of
   * later terms, so had its leader's entry been committed it would have been applied before
   * this one. It can still be applied later only if its message reached a later leader (a
   * follower that was the old leader forwards it on, or it was delayed in transit): it gets
   * `LEADER_CHANGED_GRACE_MS` for that, then fails as `leader_changed` — the outcome is still
   * unknown, and the error says so — instead of at the request timeout.
   */
  appliedTerm(term: number): void {
    for (const [seq, proposed] of this.proposedTerms) {
      if (proposed >= term) break;
      this.proposedTerms.delete(seq);
      const w = this.proposals.get(seq)!;
      clearTimeout(w.timer);
      w.timer = setTimeout(() => this.settleProposal(seq, undefined, new QuorumError('leader_changed', `the leader of term ${proposed} lost its leadership before the write was committed (term ${term} is committing now); its outcome is unknown — retry with the same Idempotency-Key, or read before retrying`)), LEADER_CHANGED_GRACE_MS);
    }
  }

  settleProposal(seq: number, result: ApplyResult | undefined, err?: Error): void {
    const w = this.proposals.get(seq);
    if (!w) return;
    this.proposals.delete(seq);
    this.proposedTerms.delete(seq);
    this.onProposalSettled?.(err);
    settle(w, result, err);
  }

  /** Fails every pending proposal with `err()` (each may still commit: their outcome is unknown). */
  failProposals(err: () => Error): void {
    for (const seq of [...this.proposals.keys()]) this.settleProposal(seq, undefined, err());
  }

  /** Waits until the read of `keys` keys is released (its ReadIndex applied) or failed. */
  read(keys = 1): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = {
        resolve,
        reject,
        done: false,
        keys: Math.max(1, keys),
        timer: setTimeout(() => this.settleRead(w, new TimeoutError('read index not confirmed in time')), this.limits.requestTimeoutMs),
      };
      this.readsPending++;
      this.queuedReads.push(w);
    });
  }

  /** The reads queued this turn (now handed to the core as one ReadIndex request). */
  takeQueuedReads(): ReadWaiter[] {
    const out = this.queuedReads;
    this.queuedReads = [];
    return out;
  }

  get hasQueuedReads(): boolean {
    return this.queuedReads.length > 0;
  }

  /** `waiters` went out as the round `ctx`, to leader `to.lead` in term `to.term`. */
  readsSent(ctx: string, waiters: ReadWaiter[], to: LeaderTerm): void {
    const nowMs = performance.now();
    this.reads.set(ctx, { waiters, sentMs: nowMs, lastSentMs: nowMs, to });
  }

  /**
   * Rounds sent (or last sent again) at least `afterMs` before `nowMs` and not confirmed: their
   * contexts, each marked sent again now. Rounds whose reads all ended (timed out) are dropped.
   */
  unansweredRounds(nowMs: number, afterMs: number): string[] {
    const out: string[] = [];
    for (const [ctx, sent] of this.reads) {
      if (nowMs - sent.lastSentMs < afterMs) continue;
      if (sent.waiters.every((w) => w.done)) {
        this.reads.delete(ctx);
        continue;
      }
      sent.lastSentMs = nowMs;
      out.push(ctx);
    }
    return out;
  }

  /** The reads of ReadIndex context `ctx` (removed: each is settled by the caller). */
  takeReads(ctx: string): ReadWaiter[] | undefined {
    const sent = this.reads.get(ctx);
    this.reads.delete(ctx);
    return sent?.waiters;
  }

  /** The core confirmed round `ctx`: its reads, and its round time reported. */
  confirmReads(ctx: string): ReadWaiter[] | undefined {
    const sent = this.reads.get(ctx);
    if (sent) this.onReadRound?.(performance.now() - sent.sentMs);
    return this.takeReads(ctx);
  }

  settleReads(waiters: readonly Waiter<void>[], err?: Error): void {
    for (const w of waiters) this.settleRead(w, err);
  }

  /** Fails every read, queued or sent (none was served: retryable). */
  failReads(err: () => Error): void {
    this.settleReads(this.takeQueuedReads(), err());
    for (const ctx of [...this.reads.keys()]) this.settleReads(this.takeReads(ctx)!, err());
  }

  /**
   * Fails the rounds sent to another leader or term than `now` (every round when undefined: no
   * leader). A soft-state change is reported after its Ready's fsync: rounds sent meanwhile to
   * the leader it reports are still answered (failing them made a restarted member's first
   * read answer 503 after it had learned its leader).
   */
  failSentReads(err: () => Error, now?: LeaderTerm): void {
    for (const [ctx, sent] of [...this.reads]) {
      if (now !== undefined && sent.to.lead === now.lead && sent.to.term === now.term) continue;
      this.settleReads(this.takeReads(ctx)!, err());
    }
  }

  private settleRead(w: Waiter<void>, err?: Error): void {
    if (w.done) return;
    this.readsPending--;
    settle(w, undefined, err);
  }

  /** Waits for `to` to lead; resolves with its term, or fails after `timeoutMs`. */
  leader(to: number, timeoutMs: number): Promise<number> {
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
    });
  }

  /** `lead` now leads in `term`: the callers waiting for it are answered. */
  leaderChanged(lead: number, term: number): void {
    this.leaderWaiters = this.leaderWaiters.filter((w) => {
      if (w.to !== lead) return true;
      clearTimeout(w.timer);
      w.resolve(term);
      return false;
    });
  }

  /** Stops every leader waiter's timer (at close; they are never answered). */
  dropLeaderWaiters(): void {
    for (const w of this.leaderWaiters) clearTimeout(w.timer);
    this.leaderWaiters = [];
  }

  /** For the driver's end-of-turn assertions: the counts stay within their limits. */
  checkInvariants(): string | undefined {
    if (this.readsPending < 0 || this.readsPending > this.limits.readsPendingMax) return `readsPending ${this.readsPending} outside 0..${this.limits.readsPendingMax}`;
    if (this.proposals.size > this.limits.proposalsPendingMax) return `${this.proposals.size} proposals pending, above ${this.limits.proposalsPendingMax}`;
    if (this.proposedTerms.size > this.proposals.size) return `${this.proposedTerms.size} proposal terms kept for ${this.proposals.size} proposals`;
    return undefined;
  }
}

function settle<T>(w: Waiter<T>, value: T | undefined, err?: Error): void {
  if (w.done) return;
  w.done = true;
  clearTimeout(w.timer);
  if (err) w.reject(err);
  else w.resolve(value as T);
}
