/**
 * Continuous log backup: the leader ships committed entries to the backup target in sealed
 * segments every `everyMs` (ts/backup/log_segment.ts), then rewrites `wal/checkpoint` naming the
 * last index shipped.
 *
 * - Where it starts: after the target's checkpoint (and any segment a previous shipper wrote
 *   before it could update the checkpoint), so a new leader continues the chain without a gap or a
 *   double; with no checkpoint, after the newest full backup; with none, it takes one first.
 * - Gaps: while it ships, compaction keeps the entries it has not shipped (bounded: see
 *   `ShippingLog`); the followers keep what the target's checkpoint says is not shipped yet. If the log was compacted past its position anyway (the target was down that
 *   long, or a new leader's log starts later), it takes a full backup and continues after it; the
 *   full backup covers the gap, and `gaps` counts it.
 * - Failures: retried with exponential backoff up to `RETRY_MS_MAX`; foreground requests never
 *   wait for the target; the lag grows and is visible.
 * - Time: every `SAMPLE_MS` the leader records `[commitIndex, now]` (a mark). Marks travel in the
 *   segments (restore `--time`) and give the live RPO: the age of the oldest committed entry not
 *   yet shipped (`lagSeconds`).
 *
 * Limits: `MARKS_MAX` marks (thinned, oldest first, beyond it), `SEGMENT_BYTES_MAX` entry bytes
 * per segment, one shipping round at a time.
 */
import { QuorumError } from '../errors';
import type { RaftNode } from '../node/raft_node';
import type { BackupReport } from './full';
import { checkOwner, manifestsIn, readCheckpoint, segmentsIn } from './catalog';
import { chainFrom } from './log_chain';
import { CHECKPOINT_NAME, encodeSegment, type LogCheckpoint, type Mark, SEGMENT_BYTES_MAX, sealCheckpoint } from './log_segment';
import type { BackupStore } from './store';

export const SAMPLE_MS = 100;
export const MARKS_MAX = 10_000;
const RETRY_MS_MIN = 200;
const FOLLOWER_POLL_MS = 1000;
const RETRY_MS_MAX = 30_000;

export interface ShipperStatus {
  everyMs: number;
  /** This node ships (it leads). */
  shipping: boolean;
  shippedIndex: number | null;
  shippedAt: string | null;
  /** Age of the oldest committed entry not yet shipped (0: none): the live RPO. */
  lagSeconds: number | null;
  segments: number;
  bytesUploaded: number;
  /** Times the log had to start again from a full backup (the log was compacted past it). */
  gaps: number;
  failures: number;
  lastError: string | null;
}

export class LogShipper {
  /** The next index to ship; undefined: find it in the target first. */
  private next: number | undefined;
  private marks: Mark[] = [];
  /** The term this node last shipped in (its position is only trusted within it). */
  private term = 0;
  private shipped: { index: number; atMs: number } | undefined;
  private busy = false;
  private nextAttemptMs = 0;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private segments = 0;
  private bytesUploaded = 0;
  private gaps = 0;
  private failures = 0;
  private lastError: string | undefined;

  constructor(
    private readonly node: RaftNode,
    private readonly store: BackupStore,
    readonly everyMs: number,
    /** Takes a full backup (the base the log continues from). */
    private readonly full: () => Promise<BackupReport>,
    private readonly onEvent: (event: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(Date.now()), SAMPLE_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.node.maintenance.log.holdFrom = undefined;
  }

  private tick(nowMs: number): void {
    if (!this.node.isLeader) {
      // The next leader continues from the target's checkpoint.
      this.next = undefined;
      this.marks = [];
      this.followCheckpoint(nowMs);
      return;
    }
    // A new term: another leader may have shipped meanwhile; continue from the target.
    const term = this.node.status().term;
    if (term !== this.term && !this.busy) {
      this.term = term;
      this.next = undefined;
    }
    this.sample(nowMs);
    if (this.busy || nowMs < this.nextAttemptMs) return;
    this.busy = true;
    this.nextAttemptMs = nowMs + this.everyMs;
    this.round().then(
      () => (this.backoffMs = 0),
      (err: Error) => {
        this.failures++;
        this.lastError = err.message;
        this.backoffMs = Math.min(RETRY_MS_MAX, Math.max(RETRY_MS_MIN, 2 * this.backoffMs));
        this.nextAttemptMs = Date.now() + this.backoffMs;
        this.onEvent('backup_log_failed', { message: err.message, retryMs: this.backoffMs });
      },
    ).finally(() => (this.busy = false));
  }

  /**
   * A follower keeps (holds from compaction) what the target's checkpoint says is not shipped yet,
   * so that if it becomes leader it continues the log without a gap. Read every
   * `FOLLOWER_POLL_MS`; a failed read keeps the last hold.
   */
  private followCheckpoint(nowMs: number): void {
    if (this.busy || nowMs < this.nextAttemptMs) return;
    this.busy = true;
    this.nextAttemptMs = nowMs + FOLLOWER_POLL_MS;
    readCheckpoint(this.store)
      .then((cp) => {
        if (!this.node.isLeader) this.node.maintenance.log.holdFrom = cp === undefined ? undefined : cp.last + 1;
      }, () => undefined)
      .finally(() => (this.busy = false));
  }

  /** Records the commit index now (a new mark when it moved). */
  private sample(nowMs: number): void {
    const commit = this.node.status().commitIndex;
    const last = this.marks[this.marks.length - 1];
    if (last && commit <= last[0]) return;
    this.marks.push([commit, nowMs]);
    // Thinned, never the newest: each remaining mark still holds (entries ≤ index by ms).
    if (this.marks.length > MARKS_MAX) this.marks = this.marks.filter((_, i) => i % 2 === 0 || i === this.marks.length - 1);
  }

  /** Ships everything committed up to the newest mark, a segment at a time. */
  private async round(): Promise<void> {
    const log = this.node.maintenance.log;
    if (this.next === undefined) this.durable((this.next = await this.resume()) - 1, Date.now());
    const upTo = this.marks.length > 0 ? this.marks[this.marks.length - 1][0] : 0;
    const leading = () => this.node.isLeader && this.node.status().term === this.term;
    while (this.next <= upTo && leading()) {
      if (this.next < log.firstIndex()) {
        this.gaps++;
        this.onEvent('backup_log_gap', { from: this.next, firstLogIndex: log.firstIndex() });
        this.next = await this.rebase();
        continue;
      }
      const entries = log.entries(this.next, Math.min(upTo, log.lastIndex()) + 1, SEGMENT_BYTES_MAX);
      const last = entries[entries.length - 1];
      const cover = this.marks.findIndex((m) => m[0] >= last.index);
      const segment = await encodeSegment(entries, this.node, this.marks.slice(0, cover + 1).filter((m) => m[0] >= entries[0].index));
      await this.store.putBytes(segment.name, segment.body);
      const cp: LogCheckpoint = { last: last.index, term: last.term, segment: segment.name, node: this.node.id, clusterId: this.node.clusterId, createdMs: Date.now() };
      await this.store.putBytes(CHECKPOINT_NAME, sealCheckpoint(cp));
      this.next = last.index + 1;
      this.durable(last.index, cp.createdMs);
      this.segments++;
      this.bytesUploaded += segment.body.length;
    }
    if (!leading()) this.next = undefined;
  }

  /**
   * Everything through `index` is in the target (shipped, or in the full backup the log continues
   * from): compaction may drop it, and the lag counts from the entries after it.
   */
  private durable(index: number, atMs: number): void {
    this.node.maintenance.log.holdFrom = index + 1;
    if (index < (this.shipped?.index ?? 0)) return;
    this.shipped = { index, atMs };
    this.marks = this.marks.filter((m) => m[0] > index);
  }

  /** Where the log continues: after the target's checkpoint (and segments past it), else after a full backup. */
  private async resume(): Promise<number> {
    const log = this.node.maintenance.log;
    const cp = await readCheckpoint(this.store);
    checkOwner(this.store, cp, this.node.clusterId);
    if (cp) {
      const after = chainFrom(await segmentsIn(this.store), cp.last + 1).reached + 1;
      if (after - 1 > log.lastIndex()) {
        throw new QuorumError('backup_target_invalid', `the log in ${this.store.url} reaches index ${after - 1}, beyond this cluster's last index ${log.lastIndex()}: give each cluster its own target`);
      }
      if (after >= log.firstIndex()) return after;
      this.gaps++;
      this.onEvent('backup_log_gap', { from: after, firstLogIndex: log.firstIndex() });
    }
    const manifests = await manifestsIn(this.store);
    const newest = manifests[manifests.length - 1];
    if (newest && newest.index + 1 >= log.firstIndex() && newest.index <= log.lastIndex() && newest.index >= (cp?.last ?? 0)) return newest.index + 1;
    return this.rebase();
  }

  /** Takes a full backup and continues after it (holding what follows it from compaction meanwhile). */
  private async rebase(): Promise<number> {
    // The backup's index will be at least the applied index now.
    this.node.maintenance.log.holdFrom = this.node.status().appliedIndex + 1;
    const next = (await this.full()).index + 1;
    this.onEvent('backup_log_base', { index: next - 1 });
    this.durable(next - 1, Date.now());
    return next;
  }

  /** Seconds since the oldest committed entry not yet shipped was first seen committed (0: none). */
  lagSeconds(nowMs = Date.now()): number | undefined {
    if (!this.node.isLeader) return undefined;
    const shipped = this.shipped?.index ?? 0;
    const oldest = this.marks.find((m) => m[0] > shipped);
    return oldest ? Math.max(0, nowMs - oldest[1]) / 1000 : 0;
  }

  status(): ShipperStatus {
    return {
      everyMs: this.everyMs,
      shipping: this.node.isLeader,
      shippedIndex: this.shipped?.index ?? null,
      shippedAt: this.shipped ? new Date(this.shipped.atMs).toISOString() : null,
      lagSeconds: this.lagSeconds() ?? null,
      segments: this.segments,
      bytesUploaded: this.bytesUploaded,
      gaps: this.gaps,
      failures: this.failures,
      lastError: this.lastError ?? null,
    };
  }
}
