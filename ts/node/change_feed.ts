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
  /** The feed ends the watch (`reason`: why, e.g. the node is stopping). */
  end(reason: string): void;
}

interface Watcher {
  prefix: string;
  sink: WatchSink;
  /** The first revision it wants: above the feed's own when it resumes on a node that lags. */
  from: number;
}

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
      const mine = changes.filter((c) => c.revision >= w.from && c.key.startsWith(w.prefix));
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
   * Starts a watch of keys under `prefix` from `fromRevision` (default: the next change): the
   * retained changes since then are sent at once, then every new one. 'compacted' when changes
   * from that revision are no longer retained.
   */
  watch(prefix: string, fromRevision: number | undefined, sink: WatchSink): { cancel: () => void } | 'compacted' {
    const from = fromRevision ?? this.appliedIndex + 1;
    if (from < this.retainedFrom) return 'compacted';
    const watcher = { prefix, sink, from };
    const past: KvChange[] = [];
    for (let i = this.head; i < this.history.length; i++) {
      const c = this.history[i];
      if (c.revision >= from && c.key.startsWith(prefix)) past.push(c);
    }
    if (past.length > 0 && !sink.send(past)) return { cancel: () => undefined };
    this.watchers.add(watcher);
    return { cancel: () => this.watchers.delete(watcher) };
  }

  /** Ends every watch (the node is stopping or was removed). */
  endAll(reason: string): void {
    for (const w of this.watchers) w.sink.end(reason);
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
