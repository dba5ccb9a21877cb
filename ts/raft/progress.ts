/**
 * The leader's view of one follower (etcd's tracker.Progress).
 *
 * - Probe: we do not know the follower's last match; send one MsgApp at a time and wait.
 * - Replicate: optimistic pipelining; `next` advances as soon as entries are sent, bounded by
 *   the inflights window.
 * - Snapshot: the follower needs a snapshot; send nothing until it reports back.
 *
 * Invariant: `match < next`.
 */
import { invariant } from './assert';
import { Inflights } from './inflights';

export enum ProgressState {
  Probe = 'probe',
  Replicate = 'replicate',
  Snapshot = 'snapshot',
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** In Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** In Probe state: a MsgApp is outstanding; wait for its answer or a heartbeat response. */
  msgAppFlowPaused = false;
  /**
   * Leader's `readRoundsSent` when this voter last answered a read round that was still waiting
   * for its quorum (0: none this term); the newest ones are asked first (read_index.ts).
   */
  readAckRound = 0;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, inflightMsgsMax: number, inflightBytesMax: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records that entries up to `lastIndex` (of `bytes`) were sent. */
  sentEntries(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entryCount > 0) {
        this.optimisticUpdate(lastIndex);
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === ProgressState.Probe) {
      this.msgAppFlowPaused = true;
    }
  }

  /** An acknowledgement up to `n`; returns whether it told us something new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    invariant(this.match < this.next, () => `progress match ${this.match} must stay below next ${this.next}`);
    return updated;
  }

  optimisticUpdate(n: number): void {
    this.next = n + 1;
    invariant(this.match < this.next, () => `progress match ${this.match} must stay below next ${this.next}`);
  }

  /**
   * A rejection of the MsgApp at `rejected`; `matchHint` is the follower's (term-adjusted)
   * hint. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale unless it rejects something beyond what we know matches.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.msgAppFlowPaused;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
