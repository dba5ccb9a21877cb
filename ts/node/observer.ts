/**
 * What the node reports to the health monitor and the metrics as it happens. Every hook is
 * optional and cheap (called on the hot path: no allocation, no I/O).
 */
export interface NodeObserver {
  /**
   * One Ready's `entries` (and hard state) became durable after `ms` (append → fdatasync done;
   * the driver persists one Ready at a time, so this is one sync).
   */
  walSync?(ms: number, entries: number): void;
  /** A ReadIndex round (one heartbeat round for a batch of reads) was confirmed after `ms`. */
  readIndex?(ms: number): void;
  /** A proposal was answered: applied (`err` undefined) or failed with `err`. */
  proposalSettled?(err: Error | undefined): void;
  /** The known leader changed (to none included). */
  leaderChanged?(): void;
  /** A snapshot was streamed to a follower. */
  snapshotSent?(): void;
}
