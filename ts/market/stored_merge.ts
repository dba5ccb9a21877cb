/**
 * Several instruments' stored records with `after < seq ≤ upTo`, merged in seq order and handed
 * out in chunks of at most `CHUNK_RECORDS_MAX` records: a stream's catch-up holds bounded memory
 * however long the history (reading it all first held every record, and failed past about
 * 120,000 of them).
 *
 * Each instrument is read a page of blocks at a time (`PAGE_BYTES` of them, or one block).
 * Invariant (a lazy k-way merge): every instrument with records left holds its next one, and
 * sits in a min-heap by that record's seq; so the heap's top is the smallest record left. Seqs
 * are unique across instruments (an entry's index and a position in it).
 */
import { invariant } from '../raft/assert';
import { OFFSET, RECORD_BYTES } from './records';
import { blocksAfter, type EngineScan, type PageCheck } from './state';

/** Records per chunk: about 1 MiB of JSON lines. */
export const CHUNK_RECORDS_MAX = 4096;
/** Blocks read per instrument at a time (up to 1,000 instruments are merged). */
const PAGE_BYTES = 64 << 10;

interface Source {
  blocks: AsyncGenerator<Buffer>;
  block: Buffer;
  /** Byte offset of the next record in `block`. */
  at: number;
  /** That record's seq. */
  head: bigint;
}

export class StoredMerge {
  private readonly heap: Source[] = [];
  private opened = false;

  /** `check(id)`: what each page of instrument `id`'s blocks is checked with (a purge overtaking the read). */
  constructor(
    private readonly engine: EngineScan,
    private readonly ids: readonly number[],
    private readonly after: bigint,
    private readonly upTo: bigint,
    private readonly check: (id: number) => PageCheck | undefined,
  ) {}

  /** The next records in seq order (a copy), or undefined once none are left. */
  async next(): Promise<Buffer | undefined> {
    if (!this.opened) await this.open();
    const parts: Buffer[] = [];
    let records = 0;
    while (records < CHUNK_RECORDS_MAX && this.heap.length > 0) {
      const source = this.pop();
      // Its records up to the next instrument's head (or `upTo`) come before every other one left.
      const bound = this.heap.length > 0 ? this.heap[0].head : this.upTo + 1n;
      let end = source.at;
      while (end < source.block.length && records < CHUNK_RECORDS_MAX && seqAt(source.block, end) < bound && seqAt(source.block, end) <= this.upTo) {
        end += RECORD_BYTES;
        records++;
      }
      invariant(end > source.at, () => `the merge's smallest record ${source.head} was not taken`);
      parts.push(source.block.subarray(source.at, end));
      source.at = end;
      if (await this.advance(source)) this.push(source);
    }
    return parts.length === 0 ? undefined : Buffer.concat(parts);
  }

  private async open(): Promise<void> {
    this.opened = true;
    for (const id of this.ids) {
      const source: Source = { blocks: blocksAfter(this.engine, id, this.after, this.check(id), PAGE_BYTES), block: EMPTY, at: 0, head: 0n };
      if (await this.advance(source)) this.push(source);
    }
  }

  /** Moves `source` to its next record after `after` and at most `upTo`; false: it has none left. */
  private async advance(source: Source): Promise<boolean> {
    for (;;) {
      for (; source.at < source.block.length; source.at += RECORD_BYTES) {
        const seq = seqAt(source.block, source.at);
        if (seq > this.upTo) return false;
        if (seq > this.after) {
          source.head = seq;
          return true;
        }
      }
      const next = await source.blocks.next();
      if (next.done) return false;
      source.block = next.value;
      source.at = 0;
    }
  }

  private push(source: Source): void {
    const heap = this.heap;
    heap.push(source);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent].head <= heap[i].head) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  private pop(): Source {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && heap[left].head < heap[least].head) least = left;
      if (right < heap.length && heap[right].head < heap[least].head) least = right;
      if (least === i) return top;
      [heap[least], heap[i]] = [heap[i], heap[least]];
      i = least;
    }
  }
}

const EMPTY = Buffer.alloc(0);
const seqAt = (block: Buffer, at: number): bigint => block.readBigUInt64LE(at + OFFSET.seq);
