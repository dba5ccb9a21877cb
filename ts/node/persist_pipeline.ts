/**
 * The Ready loop's WAL writes in flight (pipelined persistence: the core's `accept`, later its
 * `persisted`). Each write is issued as its Ready is taken, so the WAL's group commit can make
 * several Readies durable in one fsync; what waits on a write (the `persisted` report, the acks
 * and votes it carries) runs after that write *and* every earlier one's follow-up — in the order
 * the Readies were taken, whatever order the promises settle in.
 *
 * Limit: `inFlightMax` writes that wait for an fsync (a Ready with nothing to sync only keeps its
 * place in the order); the loop waits for `room()` before taking another Ready. The first
 * failure stops the chain: no follow-up after a failed write runs, and `onError` (which makes
 * the node fatal) is called once.
 */
import { invariant } from '../raft/assert';

export class PersistPipeline {
  /** One settled-in-order link per write in flight, oldest first. */
  private readonly links: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  /** Links whose write waits for an fsync (≤ inFlightMax). */
  private synced = 0;
  private failed = false;

  constructor(
    private readonly inFlightMax: number,
    private readonly onError: (err: Error) => void,
  ) {
    invariant(Number.isInteger(inFlightMax) && inFlightMax >= 1, () => `writes in flight max ${inFlightMax} must be a positive integer`);
  }

  get inFlight(): number {
    return this.links.length;
  }

  get full(): boolean {
    return this.synced >= this.inFlightMax;
  }

  /**
   * `write` has been issued (`synced`: it waits for an fsync); `then` runs once it and everything
   * pushed before it are done.
   */
  push(write: Promise<void>, synced: boolean, then: () => void): void {
    if (synced) this.synced++;
    // Handled now: it may fail while earlier links are still pending (the chain sees it later).
    write.catch(() => undefined);
    const settled = (): void => {
      this.links.shift();
      if (synced) this.synced--;
    };
    const link = this.tail
      .then(() => write)
      .then(
        () => {
          settled();
          if (this.failed) return;
          try {
            then();
          } catch (err) {
            this.stop(err as Error);
          }
        },
        (err: Error) => {
          settled();
          this.stop(err);
        },
      );
    this.links.push(link);
    this.tail = link;
  }

  /** Resolves when the oldest link has been followed up (at once when none is in flight). */
  room(): Promise<void> {
    return this.links[0] ?? Promise.resolve();
  }

  /** Resolves when every write pushed so far has been followed up (or the chain stopped). */
  drained(): Promise<void> {
    return this.tail;
  }

  private stop(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(err);
  }
}
