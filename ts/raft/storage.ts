/**
 * The core reads stable state through `Storage` (etcd's interface). The driver persists entries
 * from `Ready` into its storage before calling `advance`; the core never writes to it.
 */
import { invariant } from './assert';
import { type ConfState, type Entry, EntryType, type HardState, type Snapshot, entryBytes } from './types';

export type StorageErrorKind = 'compacted' | 'unavailable' | 'snapshot-temporarily-unavailable';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(readonly kind: StorageErrorKind, message: string) {
    super(message);
  }
}

export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi) up to `maxBytes` (at least one). Throws `compacted`/`unavailable`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry `i`; valid for `firstIndex() - 1 <= i <= lastIndex()`. */
  term(i: number): number;
  lastIndex(): number;
  firstIndex(): number;
  /** The most recent snapshot; may throw `snapshot-temporarily-unavailable`. */
  snapshot(): Snapshot;
}

/** Limits a slice of entries to `maxBytes`, always keeping the first entry. */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entryBytes(entries[0]);
  let n = 1;
  for (; n < entries.length; n++) {
    size += entryBytes(entries[n]);
    if (size > maxBytes) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

const emptyConf = (): ConfState => ({ voters: [], learners: [] });

/**
 * In-memory storage for the simulator and tests. `ents[0]` is a dummy entry holding the index
 * and term of the last compacted (snapshotted) entry.
 */
export class MemoryStorage implements Storage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: emptyConf() }, data: new Uint8Array() };
  private ents: Entry[] = [{ index: 0, term: 0, type: EntryType.Normal, data: new Uint8Array() }];

  static withVoters(voters: number[]): MemoryStorage {
    const s = new MemoryStorage();
    s.snap.metadata.confState = { voters: [...voters], learners: [] };
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    // A snapshot holds committed state only: its index is committed even when the hard state
    // recording that was still being written (a pipelined driver snapshots what it applied, and
    // applies what is committed and durable here, ahead of the hard state's write).
    const commit = Math.max(this.hardState.commit, this.snap.metadata.index);
    return { hardState: { ...this.hardState, commit }, confState: structuredClone(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private offset(): number {
    return this.ents[0].index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new StorageError('compacted', `term(${i}) below compacted index ${offset}`);
    if (i - offset >= this.ents.length) throw new StorageError('unavailable', `term(${i}) above last index ${this.lastIndex()}`);
    return this.ents[i - offset].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new StorageError('compacted', `entries from ${lo} below compacted index ${offset}`);
    invariant(hi <= this.lastIndex() + 1, () => `entries hi ${hi} out of bound last index ${this.lastIndex()}`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Installs a snapshot, discarding the whole log. */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) return;
    this.snap = snap;
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: EntryType.Normal, data: new Uint8Array() }];
  }

  /** Records a snapshot at `index` (which must be applied) with the given configuration and data. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    invariant(index > this.snap.metadata.index, () => `snapshot ${index} is not newer than ${this.snap.metadata.index}`);
    invariant(index <= this.lastIndex(), () => `snapshot ${index} beyond last index ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState: structuredClone(confState) }, data };
    return this.snap;
  }

  /** Discards entries before `compactIndex` (which must not exceed the last snapshot's index). */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    invariant(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} beyond last index ${this.lastIndex()}`);
    const i = compactIndex - offset;
    const head = this.ents[i];
    this.ents = [{ index: head.index, term: head.term, type: EntryType.Normal, data: new Uint8Array() }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any conflicting suffix. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // all already compacted
    const from = Math.max(first, entries[0].index);
    const ents = entries.slice(from - entries[0].index);
    const offset = from - this.offset();
    invariant(offset <= this.ents.length, () => `missing log entry [last: ${this.lastIndex()}, append at: ${from}]`);
    if (offset === this.ents.length) {
      // The common case, appending at the tail: amortized O(entries), no copy of the log.
      for (const e of ents) this.ents.push(e);
      return;
    }
    this.ents = this.ents.slice(0, offset).concat(ents);
  }
}
