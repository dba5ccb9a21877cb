/**
 * Books in the past: the book of an instrument as of a seq, or as of a venue time, rebuilt from
 * the newest book checkpoint at or before it and the stored events after that checkpoint
 * (rolled forward in a scratch book, never touching the live ones). An instrument's venue
 * times are taken to be non-decreasing in seq order (they are one venue's clock).
 */
import { Books } from '../native_market';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET, OFFSET } from './records';
import { UnavailableError } from '../errors';
import { purgeCheck } from './purge';
import { checkpointsPrefix, type EngineScan, LEVELS_PER_SIDE_MAX, prefixEnd, rollForward } from './state';

/** Where to stop: the last event at or before a seq, or at or before a venue time (ns). */
export type BookTarget = { seq: bigint } | { tsEvent: bigint };

function reached(target: BookTarget, seq: bigint, tsEvent: bigint): boolean {
  return 'seq' in target ? seq <= target.seq : tsEvent <= target.tsEvent;
}

/**
 * The newest book checkpoint of instrument `id` for which `usable(seq, tsEvent)` holds (of the
 * event it ends at); checkpoints are in seq order, and so in venue-time order (one venue clock),
 * so `usable` holds for a run of the oldest ones and a binary search finds the run's end: the
 * checkpoints' keys are listed (keys only), and about log2(n) of their books are read. (Reading
 * every book from the oldest made a time late in a day cost the day's checkpoints.) Undefined:
 * none (start from an empty book).
 */
export async function newestCheckpoint(engine: EngineScan, id: number, usable: (seq: bigint, tsEvent: bigint) => boolean): Promise<{ seq: bigint; book: Buffer } | undefined> {
  // Only a purge deletes checkpoints, the oldest ones, and it may apply between the listing and
  // a read: the search then starts again on the new list (each purge leaves a shorter one).
  for (let attempt = 1; attempt <= SEARCH_ATTEMPTS_MAX; attempt++) {
    const found = await searchCheckpoints(engine, checkpointsPrefix(id), usable);
    if (found !== 'purged') return found;
  }
  throw new UnavailableError(`instrument ${id}'s checkpoints were purged ${SEARCH_ATTEMPTS_MAX} times while searched; retry`);
}

/** Searches before giving up: each one failed only because a purge applied during it. */
const SEARCH_ATTEMPTS_MAX = 3;

/** One binary search over the checkpoints listed now ('purged': a listed one was gone when read). */
async function searchCheckpoints(engine: EngineScan, prefix: string, usable: (seq: bigint, tsEvent: bigint) => boolean): Promise<{ seq: bigint; book: Buffer } | undefined | 'purged'> {
  const keys = await listKeys(engine, prefix);
  let best: { seq: bigint; book: Buffer } | undefined;
  // Invariant: `usable` holds for every checkpoint below `lo` and for none at or past `hi`.
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const page = await engine.scan({ start: keys[mid], end: prefixEnd(prefix), limit: 1 });
    const book = page.items[0]?.value;
    if (book === undefined || !page.items[0].key.equals(keys[mid])) return 'purged';
    const seq = book.readBigUInt64LE(BOOK_SEQ_OFFSET);
    if (usable(seq, book.readBigUInt64LE(BOOK_TS_OFFSET))) {
      best = { seq, book };
      lo = mid + 1;
    } else hi = mid;
  }
  return best;
}

/** Every key under `prefix`, in order (values not read). */
async function listKeys(engine: EngineScan, prefix: string): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  for (;;) {
    const page = await engine.scan({ prefix, after: keys.at(-1), limit: 1000, keysOnly: true });
    for (const item of page.items) keys.push(item.key);
    if (!page.more || page.items.length === 0) return keys;
  }
}

/**
 * The book of instrument `id` (named `symbol`) as of `target`, as JSON; undefined if it had none
 * then. `keptSeq`: a purge that overtakes the roll forward (or that dropped the target's
 * history since the caller checked it) is 410 `compacted`, never a book missing events.
 */
export async function bookAt(engine: EngineScan, id: number, symbol: string, target: BookTarget, depth: number, keptSeq?: () => bigint | undefined): Promise<string | undefined> {
  const from = (await newestCheckpoint(engine, id, (seq, ts) => reached(target, seq, ts))) ?? { seq: 0n, book: undefined };
  const scratch = new Books(LEVELS_PER_SIDE_MAX);
  if (from.book) scratch.load(id, from.book);
  const stop = (record: Buffer) => !reached(target, record.readBigUInt64LE(OFFSET.seq), record.readBigUInt64LE(OFFSET.tsEvent));
  await rollForward(engine, scratch, id, from.seq, stop, keptSeq && purgeCheck({ symbol, keptSeq }));
  return scratch.view(id, symbol, depth);
}
