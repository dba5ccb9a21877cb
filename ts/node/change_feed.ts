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
 * Limits: `historyMax` changes retained; each watcher's own buffer is bounded by its sink
 * (`ts/api/watch.ts`), which ends a slow consumer's stream.
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
  private readonly watchers = new Set<Watcher>();

  constructor(
    appliedIndex: number,
    private readonly historyMax = WATCH_HISTORY_MAX,
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
    for (const c of changes) this.history.push(c);
    this.trim();
    for (const w of [...this.watchers]) {
      const mine = changes.filter((c) => c.revision >= w.from && c.key.startsWith(w.prefix));
      if (mine.length > 0 && !w.sink.send(mine)) this.watchers.delete(w);
    }
  }

  private trim(): void {
    const kept = this.history.length - this.head;
    if (kept <= this.historyMax) return;
    this.head += kept - this.historyMax;
    // Whole revisions only: a watch from `retainedFrom` must get all of that revision's changes
    // (an SSE id says every change through it was sent). A publish ends on a revision's end.
    while (this.head < this.history.length && this.history[this.head].revision === this.history[this.head - 1].revision) this.head++;
    this.retainedFrom = this.head < this.history.length ? this.history[this.head].revision : this.appliedIndex + 1;
    if (this.head > this.historyMax) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }

  /** A snapshot replaced the state at `index`: nothing before it can be replayed. */
  reset(index: number): void {
    this.history = [];
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
