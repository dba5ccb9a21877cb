/**
 * Books in the past: the book of an instrument as of a seq, or as of a venue time, rebuilt from
 * the newest book checkpoint at or before it and the stored events after that checkpoint
 * (rolled forward in a scratch book, never touching the live ones). An instrument's venue
 * times are taken to be non-decreasing in seq order (they are one venue's clock).
 */
import { Books } from '../native_market';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET, OFFSET } from './records';
import { checkpointsPrefix, type EngineScan, LEVELS_PER_SIDE_MAX, rollForward, scanPrefix } from './state';

/** Where to stop: the last event at or before a seq, or at or before a venue time (ns). */
export type BookTarget = { seq: bigint } | { tsEvent: bigint };

function reached(target: BookTarget, seq: bigint, tsEvent: bigint): boolean {
  return 'seq' in target ? seq <= target.seq : tsEvent <= target.tsEvent;
}

/**
 * The newest book checkpoint of instrument `id` for which `usable(seq, tsEvent)` holds (of the
 * event it ends at); checkpoints are in seq order, and so in venue-time order (one venue clock),
 * so the scan stops at the first that is not. Undefined: none (start from an empty book).
 */
export async function newestCheckpoint(engine: EngineScan, id: number, usable: (seq: bigint, tsEvent: bigint) => boolean): Promise<{ seq: bigint; book: Buffer } | undefined> {
  let best: { seq: bigint; book: Buffer } | undefined;
  for await (const [, book] of scanPrefix(engine, checkpointsPrefix(id))) {
    const seq = book.readBigUInt64LE(BOOK_SEQ_OFFSET);
    if (!usable(seq, book.readBigUInt64LE(BOOK_TS_OFFSET))) break;
    best = { seq, book };
  }
  return best;
}

/** The book of instrument `id` (named `symbol`) as of `target`, as JSON; undefined if it had none then. */
export async function bookAt(engine: EngineScan, id: number, symbol: string, target: BookTarget, depth: number): Promise<string | undefined> {
  const from = (await newestCheckpoint(engine, id, (seq, ts) => reached(target, seq, ts))) ?? { seq: 0n, book: undefined };
  const scratch = new Books(LEVELS_PER_SIDE_MAX);
  if (from.book) scratch.load(id, from.book);
  await rollForward(engine, scratch, id, from.seq, (record) => !reached(target, record.readBigUInt64LE(OFFSET.seq), record.readBigUInt64LE(OFFSET.tsEvent)));
  return scratch.view(id, symbol, depth);
}
