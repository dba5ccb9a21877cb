/**
 * Feeds a replay cursor its instruments' stored event blocks, reading ahead: a source running low
 * (fewer than `READ_AHEAD_RECORDS` buffered) gets its next blocks read while the cursor renders
 * others, so the merge rarely stalls on storage. At most one read per source is in flight (blocks
 * arrive in order) and each reads at most `BLOCKS_PER_READ` blocks and `readBytesMax` bytes (at
 * least one block), so a session buffers at most about that much per instrument.
 *
 * Blocks vary in size (a busy instrument's block holds thousands of events), and the main thread
 * takes each read whole (`push` decodes every record): a paced session bounds its reads by bytes
 * (`READ_BYTES_PACED`) so one read never holds the loop past its next wake-up. Unbounded, 16 large
 * blocks were 2.1 MB, whose push took 11–15 ms of the main thread in a 10× session.
 */
import type { ReplayCursor } from '../native_market';
import { compactedError, purgedGap } from './purge';
import { OFFSET, RECORD_BYTES } from './records';
import { type EngineScan, eventsKey, eventsPrefix, prefixEnd } from './state';

export const READ_AHEAD_RECORDS = 2048;
/** Stored blocks per read (a block is one ingest batch's events of an instrument). */
export const BLOCKS_PER_READ = 16;
/** A paced session's bytes per read: about 680 records, well under a millisecond to take. */
export const READ_BYTES_PACED = 64 << 10;
/** A max-speed session's: large reads for throughput, bounded so other sessions still get the loop. */
export const READ_BYTES_MAX_SPEED = 1 << 20;

interface Scan {
  /** The instrument's blocks from `start` (inclusive) to `end` (exclusive). */
  start: string;
  end: string;
  /** The last block key read (the next read continues after it). */
  after?: Buffer;
  /** The instrument's id, and the seq read up to (its records up to it are read or before the start). */
  id: number;
  readSeq: bigint;
}

export class ReplayFeed {
  private readonly scans: Scan[];
  private readonly inflight = new Map<number, Promise<void>>();
  private retired = false;
  /** A read that failed: every later read fails with it (a read ahead has no caller to tell). */
  private failure: Error | undefined;

  /** `startSeqs[i]`: source i's records after this seq are read (0n: all of them). */
  constructor(
    private readonly engine: () => EngineScan,
    private readonly cursor: ReplayCursor,
    ids: number[],
    startSeqs: bigint[],
    /** Where a purged instrument's kept history starts now (its base checkpoint's seq). */
    private readonly keptSeq: (id: number) => bigint | undefined,
    /** Bytes per read: `READ_BYTES_MAX_SPEED` while priming (the roll-forward is not paced), then the session's. */
    public readBytesMax = READ_BYTES_MAX_SPEED,
  ) {
    this.scans = ids.map((id, i) => ({ id, readSeq: startSeqs[i], start: startSeqs[i] > 0n ? eventsKey(id, startSeqs[i] + 1n) : eventsPrefix(id), end: prefixEnd(eventsPrefix(id)) }));
  }

  /** Starts reads for every source running low. */
  readAhead(): void {
    // (A failure is kept and given to the next `read`.)
    for (const i of this.cursor.lowSources(READ_AHEAD_RECORDS)) this.read(i).catch(() => undefined);
  }

  /** Resolves once source `i` got its next blocks (or is known to have none). */
  read(i: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    let pending = this.inflight.get(i);
    if (!pending) {
      pending = this.fetch(i)
        .catch((err: Error) => {
          this.failure ??= err;
          throw err;
        })
        .finally(() => this.inflight.delete(i));
      this.inflight.set(i, pending);
    }
    return pending;
  }

  /** The cursor was replaced (a seek): reads still in flight are dropped. */
  retire(): void {
    this.retired = true;
  }

  private async fetch(i: number): Promise<void> {
    const scan = this.scans[i];
    const page = await this.engine().scan({ start: scan.start, end: scan.end, after: scan.after, limit: BLOCKS_PER_READ, bytesMax: this.readBytesMax });
    if (this.retired) return;
    // A purge the read saw dropped records this session has not read: its output would skip
    // them silently. (The kept start is an event of the instrument: while it is unread, a read
    // that did not see the purge starts at or before it.)
    const kept = this.keptSeq(scan.id);
    if (purgedGap(kept, scan.readSeq, page.items[0]?.value.readBigUInt64LE(OFFSET.seq))) throw compactedError(`instrument ${scan.id}`, kept!, 'were purged while this session read them');
    const last = page.items.at(-1);
    if (last) {
      scan.after = last.key;
      scan.readSeq = last.value.readBigUInt64LE(last.value.length - RECORD_BYTES + OFFSET.seq);
    }
    const values = page.items.map((item) => item.value);
    this.cursor.push(i, values.length === 1 ? values[0] : Buffer.concat(values), !page.more || page.items.length === 0);
  }
}
