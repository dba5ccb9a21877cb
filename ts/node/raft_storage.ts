/**
 * The Raft core's `Storage`, backed by the addon's WAL. The core reads synchronously, the WAL
 * reads asynchronously, so the entries since the last snapshot are mirrored in memory: loaded
 * once at open, extended only after a persist is durable (so the mirror never holds anything
 * the disk does not), trimmed on compaction.
 *
 * Each WAL entry's data is `[type u8][payload]`: the WAL knows index and term, the Raft entry
 * type rides in the first byte.
 */
import { invariant } from '../raft/assert';
import { limitSize, type Storage, StorageError } from '../raft/storage';
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/types';
import type { LogEntry, Wal } from '../native';

const WAL_READ_BYTES_MAX = 8 << 20;
/** Entry bytes per WAL append; below the WAL's groupBytesMax (16 MiB by default). */
const PERSIST_GROUP_BYTES_MAX = 8 << 20;

export function toWalEntry(e: Entry): LogEntry {
  const data = Buffer.allocUnsafe(1 + e.data.length);
  data[0] = e.type;
  data.set(e.data, 1);
  return { index: e.index, term: e.term, data };
}

export function fromWalEntry(e: LogEntry): Entry {
  return { index: e.index, term: e.term, type: e.data[0] as EntryType, data: e.data.subarray(1) };
}

export class WalStorage implements Storage {
  /** Entries firstIndex..lastIndex; `offset` is the index of `ents[0]`. */
  private ents: Entry[] = [];
  private offset: number;
  /**
   * The entry just before `firstIndex()`. Equal to the latest snapshot's index after open or
   * an install; below it after `compact` keeps a tail of entries for slow followers.
   */
  private base: { index: number; term: number };
  /** Settles once every persist so far has been mirrored (or failed: the node is then fatal). */
  private mirrored: Promise<void> = Promise.resolve();

  private constructor(
    private readonly wal: Wal,
    private snap: Snapshot,
    /** The configuration the core starts with (at the state machine's applied index). */
    private readonly conf: ConfState,
  ) {
    this.offset = wal.firstIndex();
    this.base = { index: snap.metadata.index, term: snap.metadata.term };
  }

  /**
   * Loads the WAL's entries. `snapshot` describes the state the log continues from (an empty one
   * at index 0 with the initial configuration for a new cluster). `conf` is the configuration
   * the core starts with — the state machine's, which may be past the snapshot's (the driver
   * then skips the conf changes it already holds when they are handed out again).
   */
  static async open(wal: Wal, snapshot: Snapshot, conf: ConfState = snapshot.metadata.confState): Promise<WalStorage> {
    const s = new WalStorage(wal, snapshot, structuredClone(conf));
    invariant(wal.firstIndex() <= snapshot.metadata.index + 1, () => `WAL starts at ${wal.firstIndex()}, after the snapshot at ${snapshot.metadata.index}: entries are missing`);
    for (let lo = wal.firstIndex(); lo <= wal.lastIndex(); ) {
      const batch = await wal.entries(lo, wal.lastIndex() + 1, WAL_READ_BYTES_MAX);
      for (const e of batch) s.ents.push(fromWalEntry(e));
      lo += batch.length;
    }
    // Entries the snapshot already covers are not needed by the core.
    s.trimTo(snapshot.metadata.index + 1);
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    // An installed snapshot is committed state, but its index reaches the hard state only with the
    // next append: a crash in between (WAL reset, hard state not yet written) leaves a commit below
    // the snapshot, which the core rightly refuses. Everything up to the snapshot is committed.
    const hs = this.wal.hardState();
    return { hardState: { ...hs, commit: Math.max(hs.commit, this.snap.metadata.index) }, confState: structuredClone(this.conf) };
  }

  firstIndex(): number {
    return this.base.index + 1;
  }

  lastIndex(): number {
    return Math.max(this.base.index, this.offset + this.ents.length - 1);
  }

  term(i: number): number {
    if (i === this.base.index) return this.base.term;
    if (i < this.firstIndex()) throw new StorageError('compacted', `term(${i}) is below the compacted index ${this.base.index}`);
    if (i > this.lastIndex()) throw new StorageError('unavailable', `term(${i}) is above the last index ${this.lastIndex()}`);
    return this.ents[i - this.offset].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new StorageError('compacted', `entries from ${lo} are below the compacted index ${this.base.index}`);
    invariant(hi <= this.lastIndex() + 1, () => `entries hi ${hi} beyond the last index ${this.lastIndex()}`);
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Makes a Ready's entries and hard state durable in one WAL append (one group commit), then
   * mirrors them. A conflicting suffix is replaced, as Raft requires.
   */
  persist(entries: readonly Entry[], hardState: HardState | undefined): Promise<void> {
    if (entries.length === 0 && !hardState) return this.mirrored;
    // One Ready can hold more than one WAL group may (a follower catching up takes many
    // appends in one turn): split into groups, queued back to back, the hard state with the
    // last. A crash in between leaves a durable prefix, which Raft allows (nothing was acked).
    const appends: Promise<void>[] = [];
    let chunk: LogEntry[] = [];
    let bytes = 0;
    for (const e of entries) {
      if (chunk.length > 0 && bytes + e.data.length > PERSIST_GROUP_BYTES_MAX) {
        appends.push(this.wal.append(chunk, undefined));
        chunk = [];
        bytes = 0;
      }
      chunk.push(toWalEntry(e));
      bytes += e.data.length + 64;
    }
    appends.push(this.wal.append(chunk, hardState));
    // Persists may overlap (the driver pipelines its writes): each mirrors its entries only after
    // the one before it did, so the mirror follows the WAL's order whatever order promises settle.
    const earlier = this.mirrored;
    const done = Promise.all(appends).then(async () => {
      await earlier;
      if (entries.length > 0) this.mirror(entries);
    });
    this.mirrored = done.catch(() => undefined);
    return done;
  }

  private mirror(entries: readonly Entry[]): void {
    const first = entries[0].index;
    invariant(first >= this.offset && first <= this.lastIndex() + 1, () => `persisted entries start at ${first}, outside [${this.offset}, ${this.lastIndex() + 1}]`);
    this.ents.length = first - this.offset;
    for (const e of entries) this.ents.push(e);
  }

  /**
   * Records a snapshot the state machine took at its applied index and drops the log up to
   * `keepEntries` before it (so followers slightly behind still catch up from the log): from
   * memory at once, from disk by whole WAL segments.
   */
  async compact(snap: Snapshot, keepEntries = 0): Promise<void> {
    invariant(snap.metadata.index > this.snap.metadata.index, () => `snapshot ${snap.metadata.index} is not newer than ${this.snap.metadata.index}`);
    invariant(snap.metadata.index <= this.lastIndex(), () => `snapshot ${snap.metadata.index} beyond the last index ${this.lastIndex()}`);
    this.snap = snap;
    const keepFrom = Math.max(this.base.index, snap.metadata.index - keepEntries);
    if (keepFrom === this.base.index) return;
    this.base = { index: keepFrom, term: this.term(keepFrom) };
    this.trimTo(keepFrom + 1);
    await this.wal.compact(keepFrom);
  }

  /**
   * How many entries ending at `index` (the newest first) fit in both `countMax` and `bytesMax`
   * of data (a first entry over `bytesMax` alone: none) — the tail a compaction keeps.
   */
  tailEntries(index: number, countMax: number, bytesMax: number): number {
    let bytes = 0;
    let n = 0;
    for (let i = index; n < countMax && i >= this.offset && i >= this.firstIndex(); i--, n++) {
      bytes += this.ents[i - this.offset].data.length;
      if (bytes > bytesMax) break;
    }
    return n;
  }

  /** Replaces the whole log with a snapshot received from the leader (InstallSnapshot). */
  async installSnapshot(snap: Snapshot): Promise<void> {
    await this.wal.reset(snap.metadata.index + 1);
    this.snap = snap;
    this.base = { index: snap.metadata.index, term: snap.metadata.term };
    this.ents = [];
    this.offset = snap.metadata.index + 1;
  }

  private trimTo(first: number): void {
    if (first <= this.offset) return;
    this.ents = this.ents.slice(Math.min(first - this.offset, this.ents.length));
    this.offset = first;
  }
}
