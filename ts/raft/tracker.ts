/**
 * Cluster configuration and quorum arithmetic (etcd's tracker + quorum packages, single-server
 * changes only). Learners receive the log but never count toward a quorum.
 */
import { Progress } from './progress';
import type { ConfState } from './types';

export enum VoteResult {
  Pending = 'pending',
  Won = 'won',
  Lost = 'lost',
}

export class ProgressTracker {
  voters = new Set<number>();
  learners = new Set<number>();
  progress = new Map<number, Progress>();
  votes = new Map<number, boolean>();

  constructor(readonly inflightMsgsMax: number, readonly inflightBytesMax: number) {}

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /**
   * One voter: its own vote and its own log are a quorum. Learners do not count — they never
   * confirm leadership or commit anything (a lone voter with learners must not wait for them).
   */
  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Largest index replicated on a quorum of voters (by their `match`). */
  committed(): number {
    if (this.voters.size === 0) return Number.MAX_SAFE_INTEGER;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1];
  }

  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const result = granted >= q ? VoteResult.Won : rejected > this.voters.size - q ? VoteResult.Lost : VoteResult.Pending;
    return { granted, rejected, result };
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Did a quorum of voters (counting `self`) talk to us recently? */
  quorumActive(self: number): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  /** Whether acks from `acked` form a quorum of voters. */
  hasQuorum(acked: Set<number>): boolean {
    let n = 0;
    for (const id of this.voters) if (acked.has(id)) n++;
    return n >= this.quorum();
  }

  ids(): number[] {
    return [...this.progress.keys()].sort((a, b) => a - b);
  }

  addNode(id: number, next: number, isLearner: boolean): void {
    if (isLearner) {
      if (this.voters.has(id)) return; // demotion is not supported by single-server changes
      this.learners.add(id);
    } else {
      this.learners.delete(id);
      this.voters.add(id);
    }
    const existing = this.progress.get(id);
    if (existing) {
      existing.isLearner = isLearner;
      return;
    }
    const pr = new Progress(next, this.inflightMsgsMax, this.inflightBytesMax, isLearner);
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  removeNode(id: number): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
  }
}
