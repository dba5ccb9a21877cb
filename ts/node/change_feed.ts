/**
 * The change feed: every KV change the applier applies, published in apply order to the node's
 * watchers, with a bounded history so a watcher can resume from a revision it already saw.
 * One producer (the applier), many readers; served by any node, learners too.
 *
 * Invariants: history holds every change with revision ≥ `retainedFrom`, in revision order;
 * `retainedFrom` only moves forward (history is dropped oldest first past `historyMax`, and
 * all of it when a snapshot replaces the state). A watcher starting below `retainedFrom` is
 * told it is compacted (410), as etcd does.
 *
 * Limits: `historyMax` changes and `historyBytesMax` bytes of keys and values retained, whichever
 * is reached first (100,000 values of 1 MiB would otherwise be kept); each watcher's own buffer is
 * bounded by its sink (`ts/api/watch.ts`), which ends a slow consumer's stream. A retained value
 * that is a slice of a much larger buffer (a peer's frame of many entries) is copied, so what the
 * history pins is what it counts.
 */
import { invariant } from '../raft/assert';

export interface KvChange {
  revision: number;
  type: 'put' | 'delete';
  key: string;
  /** The value's JSON text (puts only). */
  value?: Buffer;
}

export const WATCH_HISTORY_MAX = 100_000;
export const WATCH_HISTORY_BYTES_MAX = 64 << 20;
/** What a retained change costs beyond its key and value (the object, its fields). */
const CHANGE_OVERHEAD_BYTES = 64;

/** Where a watcher's events go; `false` from `send` ends the watch (the sink gave up). */
export interface WatchSink {
  send(changes: readonly KvChange[]): boolean;
  /**
   * The feed ends the watch (`reason`: why, e.g. the node is stopping); every change it follows
   * through `revision` was sent to it, so it resumes right after.
   */
  end(reason: string, revision: number): void;
}

interface Watcher {
  /** Whether it follows a change (its key and type: `key_match.ts`). */
  matches: (c: KvChange) => boolean;
  sink: WatchSink;
  /**
   * The first revision it wants: above the feed's own when it resumes on a node that lags.
   * While it catches up, the next revision its catch-up reads.
   */
  from: number;
  /** It still reads the history (`catchUp`); published changes skip it meanwhile. */
  catchingUp: boolean;
}

/** An open watch: `catchUp` until it reports `live`, then the sink gets each published change. */
export interface Watching {
  cancel(): void;
  catchUp(): { changes: KvChange[]; live: boolean } | 'compacted';
}

/** A catch-up part reads at most this many retained changes, or this many bytes of matching ones. */
export const CATCH_UP_SCAN_MAX = 10_000;
export const CATCH_UP_BYTES_MAX = 256 << 10;

export class ChangeFeed {
  private history: KvChange[] = [];
  /** Index into `history` of its oldest kept change (dropped ones are spliced off in bulk). */
  private head = 0;
  private retainedFrom: number;
  private appliedIndex: number;
  /** Bytes of the changes from `head` on (`changeBytes`). */
  private historyBytes = 0;
  private readonly watchers = new Set<Watcher>();

  constructor(
    appliedIndex: number,
    private readonly historyMax = WATCH_HISTORY_MAX,
    private readonly historyBytesMax = WATCH_HISTORY_BYTES_MAX,
  ) {
    this.appliedIndex = appliedIndex;
    this.retainedFrom = appliedIndex + 1;
  }

  /** The revision every published change is at or below. */
  get revision(): number {
    return this.appliedIndex;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** A batch applied through `appliedIndex` with these KV changes (in apply order). */
  publish(changes: readonly KvChange[], appliedIndex: number): void {
    invariant(appliedIndex >= this.appliedIndex, () => `change feed went back from ${this.appliedIndex} to ${appliedIndex}`);
    this.appliedIndex = appliedIndex;
    if (changes.length === 0) return;
    for (const c of changes) {
      const kept = retainable(c);
      this.history.push(kept);
      this.historyBytes += changeBytes(kept);
    }
    this.trim();
    for (const w of [...this.watchers]) {
      // (One catching up reads these from the history.)
      if (w.catchingUp) continue;
      const mine = changes.filter((c) => c.revision >= w.from && w.matches(c));
      if (mine.length > 0 && !w.sink.send(mine)) this.watchers.delete(w);
    }
  }

  private over(): boolean {
    return this.history.length - this.head > this.historyMax || this.historyBytes > this.historyBytesMax;
  }

  private dropOldest(): void {
    this.historyBytes -= changeBytes(this.history[this.head]);
    this.head++;
  }

  private trim(): void {
    if (!this.over()) return;
    while (this.head < this.history.length && this.over()) this.dropOldest();
    // Whole revisions only: a watch from `retainedFrom` must get all of that revision's changes
    // (an SSE id says every change through it was sent). A publish ends on a revision's end.
    while (this.head < this.history.length && this.history[this.head].revision === this.history[this.head - 1].revision) this.dropOldest();
    this.retainedFrom = this.head < this.history.length ? this.history[this.head].revision : this.appliedIndex + 1;
    if (this.head > this.historyMax) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }

  /** A snapshot replaced the state at `index`: nothing before it can be replayed. */
  reset(index: number): void {
    // Watchers would miss the changes the snapshot carries: they resume where they stopped (on a
    // member that retains them, or get 410 and read the state anew).
    this.endAll('the state was replaced (a snapshot was installed); resume from your last revision');
    this.history = [];
    this.historyBytes = 0;
    this.head = 0;
    this.appliedIndex = index;
    this.retainedFrom = index + 1;
  }

  /** Whether changes from `fromRevision` on are no longer all retained. */
  compacted(fromRevision: number): boolean {
    return fromRevision < this.retainedFrom;
  }

  /**
   * Starts a watch of the changes `matches` accepts (`key_match.ts`) from `fromRevision`
   * (default: the next change).
   * 'compacted' when changes from that revision are no longer retained. The retained changes
   * since then come from `catchUp`, a part per call, and every new one after it is done (at
   * once if none is retained).
   */
  watch(matches: (c: KvChange) => boolean, fromRevision: number | undefined, sink: WatchSink): Watching | 'compacted' {
    const from = fromRevision ?? this.appliedIndex + 1;
    if (from < this.retainedFrom) return 'compacted';
    // Nothing retained to send (a watch from now): live at once.
    const watcher: Watcher = { matches, sink, from, catchingUp: this.firstAtOrAfter(from) < this.history.length };
    this.watchers.add(watcher);
    return { cancel: () => this.watchers.delete(watcher), catchUp: () => this.catchUp(watcher) };
  }

  /**
   * The next part of `w`'s catch-up: retained changes it follows from `w.from`, whole
   * revisions, reading at most `CATCH_UP_SCAN_MAX` changes or `CATCH_UP_BYTES_MAX` bytes of them
   * (past a revision's end), so one call's work and output are bounded however far back it
   * starts. `live`: nothing retained is left; `w` gets every change published from now on (the
   * caller sends this last part first: both happen in this turn, before any publish).
   * 'compacted': the history was trimmed past `w.from` while it read (it is no longer a watcher).
   */
  private catchUp(w: Watcher): { changes: KvChange[]; live: boolean } | 'compacted' {
    if (!w.catchingUp) return { changes: [], live: true };
    if (w.from < this.retainedFrom) {
      this.watchers.delete(w);
      return 'compacted';
    }
    const history = this.history;
    const changes: KvChange[] = [];
    let read = 0;
    let bytes = 0;
    let i = this.firstAtOrAfter(w.from);
    for (; i < history.length; i++) {
      const c = history[i];
      if ((read >= CATCH_UP_SCAN_MAX || bytes >= CATCH_UP_BYTES_MAX) && c.revision !== history[i - 1].revision) break;
      read++;
      if (!w.matches(c)) continue;
      changes.push(c);
      bytes += changeBytes(c);
    }
    const live = i === history.length;
    w.from = live ? Math.max(w.from, this.appliedIndex + 1) : history[i].revision;
    w.catchingUp = !live;
    return { changes, live };
  }

  /** The index of the first retained change at or after `revision` (history is in revision order). */
  private firstAtOrAfter(revision: number): number {
    let lo = this.head;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].revision < revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Ends every watch (the node is stopping or was removed). */
  endAll(reason: string): void {
    // A live watcher was sent every published change; one catching up, those before `from`.
    for (const w of this.watchers) w.sink.end(reason, w.catchingUp ? w.from - 1 : Math.max(this.appliedIndex, w.from - 1));
    this.watchers.clear();
  }
}

function changeBytes(c: KvChange): number {
  return CHANGE_OVERHEAD_BYTES + c.key.length * 2 + (c.value?.length ?? 0);
}

/** `c`, with its value copied if it is a slice of a buffer over twice its size (and past a pool chunk). */
function retainable(c: KvChange): KvChange {
  const value = c.value;
  if (value === undefined || value.buffer.byteLength <= Math.max(Buffer.poolSize, 2 * value.length)) return c;
  return { ...c, value: Buffer.from(value) };
}
