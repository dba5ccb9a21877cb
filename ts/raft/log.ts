/**
 * The Raft log as the core sees it: stable entries in `Storage` plus the `unstable` tail (and
 * possibly a snapshot) not yet persisted. Mirrors etcd's log.go / log_unstable.go.
 *
 * Invariants: applied <= committed <= lastIndex(); unstable entries follow storage (or the
 * unstable snapshot) without a gap.
 */
import { invariant } from './assert';
import { limitSize, type Storage, StorageError } from './storage';
import type { Entry, Snapshot } from './types';

class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  /** Index of `entries[0]`. */
  offset: number;
  /**
   * Entries below this index were handed to a write still in flight (a pipelined driver takes
   * the next Ready before the last one is durable); a Ready carries only those from here on.
   * Invariant: offset <= offsetInProgress <= offset + entries.length.
   */
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset].term;
  }

  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    // Only drop entries whose term still matches: a newer leader may have replaced them.
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
      this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
    }
  }

  /** Entries not yet handed to a write. */
  notInProgress(): Entry[] {
    return this.offsetInProgress === this.offset ? this.entries : this.entries.slice(this.offsetInProgress - this.offset);
  }

  /**
   * Entries up to (i, t) are in a write in flight — unless a new leader replaced them since the
   * Ready was taken (the term no longer matches): then the replacements are still to be written.
   */
  acceptInProgress(i: number, t: number): void {
    if (this.maybeTerm(i) === t && i >= this.offset) this.offsetInProgress = Math.max(this.offsetInProgress, i + 1);
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0].index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      // Replace the whole unstable tail.
      this.offset = after;
      this.offsetInProgress = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
      // Replaced entries being written are written again, after (the WAL truncates in order).
      this.offsetInProgress = Math.min(this.offsetInProgress, after);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(lo >= this.offset && hi <= this.offset + this.entries.length, () => `unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known committed by a quorum. */
  committed: number;
  /** Highest index handed to the application in a Ready (it applies asynchronously). */
  applied: number;
  readonly maxCommittedBytesPerReady: number;

  constructor(storage: Storage, maxCommittedBytesPerReady: number) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
    this.maxCommittedBytesPerReady = maxCommittedBytesPerReady;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    invariant(t !== undefined, 'the term of the last entry is always known');
    return t;
  }

  /** Term of entry `i`, or undefined when it was compacted or does not exist. */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof StorageError && (err.kind === 'compacted' || err.kind === 'unavailable')) return undefined;
      throw err;
    }
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * Appends `ents` after (index, logTerm) if that entry matches. Returns the new last index of
   * the appended range, or undefined on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, () => `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    invariant(ents[0].index - 1 >= this.committed, () => `after(${ents[0].index - 1}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** First index whose term differs from ours (or that we lack); 0 if none. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term` (the follower's or
   * leader's hint), so a rejection skips a whole term at a time.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let i = index; i >= this.firstIndex() - 1; i--) {
      const t = this.term(i);
      if (t === undefined) return i;
      if (t <= term) return i;
    }
    return this.firstIndex() - 1;
  }

  /** Unstable entries no write in flight holds yet: the next Ready's. */
  unstableEntries(): Entry[] {
    return this.unstable.notInProgress();
  }

  /** Committed entries are applied only once durable here too: never past the stable tail. */
  maxAppliableIndex(): number {
    return Math.min(this.committed, this.unstable.offset - 1);
  }

  hasNextCommittedEnts(): boolean {
    return this.maxAppliableIndex() > this.applied && !this.unstable.snapshot;
  }

  nextCommittedEnts(): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.maxAppliableIndex() + 1, this.maxCommittedBytesPerReady) ?? [];
  }

  /** Entries from `i` to the end, limited to `maxBytes`; undefined if `i` was compacted. */
  entries(i: number, maxBytes: number): Entry[] | undefined {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Entries in [lo, hi) up to `maxBytes`; undefined when `lo` was compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    invariant(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    if (lo < this.firstIndex()) return undefined;
    invariant(hi <= this.lastIndex() + 1, () => `slice[${lo},${hi}) out of bound last ${this.lastIndex()}`);
    if (lo === hi) return [];
    let out: Entry[] = [];
    if (lo < this.unstable.offset) {
      try {
        out = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxBytes);
      } catch (err) {
        if (err instanceof StorageError && err.kind === 'compacted') return undefined;
        throw err;
      }
      // Storage stopped early because of the byte limit.
      if (out.length < Math.min(hi, this.unstable.offset) - lo) return out;
    }
    if (hi > this.unstable.offset) {
      const u = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      out = out.length > 0 ? out.concat(u) : u;
    }
    return limitSize(out, maxBytes);
  }

  /** Is (lastIndex, term) at least as up to date as our log (§5.4.1)? */
  isUpToDate(lastIndex: number, term: number): boolean {
    return term > this.lastTerm() || (term === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Figure 8: commit `maxIndex` only when its entry is from the current `term`. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      invariant(this.lastIndex() >= toCommit, () => `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(this.committed >= i && i >= this.applied, () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}
