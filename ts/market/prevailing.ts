/**
 * One instrument's book as it stood just before each of its stored events: what a ticks page with
 * `prevailing=true` attaches to every event (kdb+'s `aj`: each trade with the quote prevailing when
 * it printed, the start of any transaction-cost analysis). A scratch book (never the live one)
 * starts at the newest checkpoint at or before the page's start; the caller applies every record
 * after the checkpoint in seq order, reading the top before each event it returns.
 */
import { Books } from '../native_market';
import { newestCheckpoint } from './history';
import { type EngineScan, LEVELS_PER_SIDE_MAX } from './state';

/** The top of the book; nulls on a side with no level. */
export interface Top {
  bestBid: string | null;
  bidSize: number | null;
  bestAsk: string | null;
  askSize: number | null;
}

const NO_BOOK: Top = { bestBid: null, bidSize: null, bestAsk: null, askSize: null };

export class PrevailingBook {
  private constructor(
    private readonly books: Books,
    private readonly id: number,
    private readonly symbol: string,
    /** The checkpoint's seq (0n: none, an empty book): records after it are the caller's to apply. */
    readonly fromSeq: bigint,
  ) {}

  /** A book at the newest checkpoint at or before `seq` (an empty one if there is none). */
  static async atOrBefore(engine: EngineScan, id: number, symbol: string, seq: bigint): Promise<PrevailingBook> {
    const checkpoint = await newestCheckpoint(engine, id, (s) => s <= seq);
    const books = new Books(LEVELS_PER_SIDE_MAX);
    if (checkpoint) books.load(id, checkpoint.book);
    return new PrevailingBook(books, id, symbol, checkpoint?.seq ?? 0n);
  }

  /** Applies one record (the next in seq order). */
  apply(record: Buffer): void {
    this.books.applyBatch(record);
  }

  top(): Top {
    const view = this.books.view(this.id, this.symbol, 1);
    if (view === undefined) return NO_BOOK;
    const b = JSON.parse(view) as { bids: { size: number }[]; asks: { size: number }[]; bestBid: string | null; bestAsk: string | null };
    return { bestBid: b.bestBid, bidSize: b.bids[0]?.size ?? null, bestAsk: b.bestAsk, askSize: b.asks[0]?.size ?? null };
  }
}
