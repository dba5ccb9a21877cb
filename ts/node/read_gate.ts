/**
 * Keeps reads of the engine from seeing a batch before the applier publishes it.
 *
 * The applier publishes a batch — the read cache, the applied index, the watch feed — in the
 * same turn it learns the batch is written. A batch written on the calling thread is published
 * at once, with no await between; one written on the thread pool lands in RocksDB some time
 * before that turn. Until then a read of RocksDB would see the batch while the cache and the
 * applied index do not: a multi-get could answer one key of a transaction new (from RocksDB) and
 * another old (from the cache), and a scan answering new state could be followed by a read
 * answering old. So while a pooled write is in flight the gate is closed: engine reads wait for
 * it to be published, and a pooled write waits for the pool reads already running (a scan's
 * iterator is opened on the pool, possibly after the write lands).
 *
 * Invariant: at most one pooled write at a time (the applier's batches apply in order).
 */
import { invariant } from '../raft/assert';

export class ReadGate {
  private writing: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private poolReads = 0;
  private poolIdle: (() => void) | undefined;

  /** While a pooled write is in flight: settles once it is published (then look again). */
  get closed(): Promise<void> | undefined {
    return this.writing;
  }

  /** Before a pooled write: no engine read starts from now on; resolves once those running ended. */
  async close(): Promise<void> {
    invariant(this.writing === undefined, () => 'a pooled write started while another was in flight');
    this.writing = new Promise<void>((resolve) => (this.open = resolve));
    while (this.poolReads > 0) await new Promise<void>((resolve) => (this.poolIdle = resolve));
  }

  /** The pooled write is published (or failed): reads go on. */
  reopen(): void {
    const open = this.open;
    this.writing = undefined;
    this.open = undefined;
    open?.();
  }

  /** Runs a read on the thread pool once no pooled write is in flight; no write starts under it. */
  async poolRead<T>(read: () => Promise<T>): Promise<T> {
    while (this.writing !== undefined) await this.writing;
    this.poolReads++;
    try {
      return await read();
    } finally {
      this.poolReads--;
      if (this.poolReads === 0 && this.poolIdle !== undefined) {
        const idle = this.poolIdle;
        this.poolIdle = undefined;
        idle();
      }
    }
  }
}
