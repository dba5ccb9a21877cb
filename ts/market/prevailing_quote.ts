/**
 * The last quote record before each stored event (`prevailing=quote`): kdb+'s `aj` of trades
 * against a quote table, for instruments published as top-of-book quotes (TAQ, FX) rather than
 * L2 deltas — whose L2 book (`prevailing=book`) stays empty. The quote prevailing at a page's
 * start is found by reading the instrument's stored blocks backwards from it, at most
 * `QUOTE_SEARCH_BYTES_MAX` of them; an instrument with no quote in that stretch starts the page
 * with nulls, until its first quote.
 */
import { type Top } from './prevailing';
import { formatPrice, KIND_CODES, OFFSET, RECORD_BYTES } from './records';
import { type EngineScan, eventsKey, eventsPrefix } from './state';

/** Bytes of blocks read backwards for the quote before a page (about 44,000 records). */
export const QUOTE_SEARCH_BYTES_MAX = 4 << 20;

const NO_QUOTE: Top = { bestBid: null, bidSize: null, bestAsk: null, askSize: null };

export class PrevailingQuote {
  private constructor(
    private last: Top,
    /** Records after this seq are the caller's to apply (the search covered those up to it). */
    readonly fromSeq: bigint,
  ) {}

  /** The quote prevailing just after the record `seq` (0n: before any). */
  static async after(engine: EngineScan, id: number, seq: bigint): Promise<PrevailingQuote> {
    return new PrevailingQuote(seq === 0n ? NO_QUOTE : await lastQuote(engine, id, seq), seq);
  }

  /** Applies one record (the next in seq order). */
  apply(record: Buffer): void {
    if (record[OFFSET.kind] === KIND_CODES.quote) this.last = quoteTop(record);
  }

  top(): Top {
    return this.last;
  }
}

function quoteTop(r: Buffer): Top {
  return { bestBid: formatPrice(r.readBigInt64LE(OFFSET.price)), bidSize: Number(r.readBigUInt64LE(OFFSET.size)), bestAsk: formatPrice(r.readBigInt64LE(OFFSET.askPrice)), askSize: Number(r.readBigUInt64LE(OFFSET.askSize)) };
}

/** The newest quote record with a seq at or before `seq`, searching back `QUOTE_SEARCH_BYTES_MAX`. */
async function lastQuote(engine: EngineScan, id: number, seq: bigint): Promise<Top> {
  // A block's key is its first record's seq: blocks keyed at or before `seq` hold every record up to it.
  const page = await engine.scan({ start: eventsPrefix(id), end: eventsKey(id, seq + 1n), reverse: true, limit: 1000, bytesMax: QUOTE_SEARCH_BYTES_MAX });
  for (const { value: block } of page.items) {
    for (let at = block.length - RECORD_BYTES; at >= 0; at -= RECORD_BYTES) {
      const record = block.subarray(at, at + RECORD_BYTES);
      if (record[OFFSET.kind] === KIND_CODES.quote && record.readBigUInt64LE(OFFSET.seq) <= seq) return quoteTop(record);
    }
  }
  return NO_QUOTE;
}
