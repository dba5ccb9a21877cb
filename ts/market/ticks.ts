/**
 * A page of an instrument's stored events (`GET /v1/md/ticks/{instrument}`): in seq order after
 * `afterSeq`, optionally only some kinds and only venue times in `[fromTs, toTs)`. A first page
 * with `fromTs` starts at the newest book checkpoint before it (history.ts), not at the
 * instrument's first event; later pages start at their `afterSeq`. An instrument's venue times
 * are taken to rise with its seqs: the page ends at the first event at or past `toTs`.
 *
 * After a purge, a first page starts at the instrument's kept history; a later page whose
 * `afterSeq` the purge overtook, or a page a purge overtakes while it is read, is 410 `compacted`
 * (it would skip the dropped events silently).
 */
import { invariant } from '../raft/assert';
import { newestCheckpoint } from './history';
import { KIND_CODES, type Kind, OFFSET, RECORD_BYTES, recordToEvent } from './records';
import { PrevailingBook } from './prevailing';
import { PrevailingQuote } from './prevailing_quote';
import { purgeCheck } from './purge';
import { blocksAfter, type EngineScan } from './state';

export interface TicksQuery {
  afterSeq: bigint;
  /** Inclusive; 0n: from the first event. */
  fromTs: bigint;
  /** Exclusive; undefined: to the last event. */
  toTs: bigint | undefined;
  /** Undefined: every kind. */
  kinds: ReadonlySet<Kind> | undefined;
  limit: number;
  /** Where the instrument's kept history starts now, if a purge cut it (its base checkpoint's seq). */
  keptSeq?: () => bigint | undefined;
  /** Each event with the top of the book (`prevailing.ts`) or the quote (`prevailing_quote.ts`) just before it. */
  prevailing?: 'book' | 'quote';
}

export interface TicksPage {
  events: Record<string, unknown>[];
  /** More events may match after the last one (ask again after its seq). */
  more: boolean;
}

export async function ticksPage(engine: EngineScan, id: number, symbol: string, producers: readonly string[], q: TicksQuery): Promise<TicksPage> {
  const codes = q.kinds === undefined ? undefined : new Set<number>([...q.kinds].map((k) => KIND_CODES[k]));
  let after = q.afterSeq;
  if (after === 0n && q.fromTs > 0n) after = (await newestCheckpoint(engine, id, (_seq, ts) => ts < q.fromTs))?.seq ?? 0n;
  // With books: a first page starts after the kept base, whose checkpoint holds the book there.
  if (q.prevailing === 'book' && after === 0n) after = q.keptSeq?.() ?? 0n;
  const book = q.prevailing === 'book' ? await PrevailingBook.atOrBefore(engine, id, symbol, after) : q.prevailing === 'quote' ? await PrevailingQuote.after(engine, id, after) : undefined;
  // The blocks are read from the book's checkpoint: the records up to `after` build its state.
  const start = book?.fromSeq ?? after;
  // A first page starts at the kept history (wherever it is when the blocks are read), unless it
  // has a book to build: then a purge overtaking it would leave the book wrong, so it is 410.
  // (A first page's quote search found nothing to be wrong about: it starts with none.)
  const check = q.keptSeq && purgeCheck({ symbol, keptSeq: q.keptSeq }, after === 0n && q.prevailing !== 'book');
  const events: Record<string, unknown>[] = [];
  for await (const block of blocksAfter(engine, id, start, check)) {
    for (let at = 0; at < block.length; at += RECORD_BYTES) {
      const record = block.subarray(at, at + RECORD_BYTES);
      const seq = record.readBigUInt64LE(OFFSET.seq);
      if (seq <= start) continue;
      if (seq > after) {
        const ts = record.readBigUInt64LE(OFFSET.tsEvent);
        if (q.toTs !== undefined && ts >= q.toTs) return { events, more: false };
        const wanted = ts >= q.fromTs && (codes === undefined || codes.has(record[OFFSET.kind]));
        if (wanted && events.length === q.limit) return { events, more: true };
        if (wanted) events.push(withBook(recordToEvent(record, symbol, producerOf(record, producers)), book));
      }
      book?.apply(record);
    }
  }
  return { events, more: false };
}

function producerOf(record: Buffer, producers: readonly string[]): string {
  const producer = producers[record.readUInt32LE(OFFSET.producer)];
  invariant(producer !== undefined, () => `record ${record.readBigUInt64LE(OFFSET.seq)} names producer ${record.readUInt32LE(OFFSET.producer)} of ${producers.length}`);
  return producer;
}

/** The event with the top of `book` before it applies (the caller applies it next). */
function withBook(event: Record<string, unknown>, book: PrevailingBook | PrevailingQuote | undefined): Record<string, unknown> {
  if (book) event.prevailing = book.top();
  return event;
}
