/**
 * Time bars (OHLCV) of an instrument's trades over `[fromTs, toTs)` of venue time, folded by the
 * addon (crates/market/src/bars.rs) from the stored records. The read starts at the newest book
 * checkpoint before `fromTs` (one every `CHECKPOINT_EVERY_EVENTS` events of the instrument), so
 * a bar late in a day costs its own records, not the day's; an instrument's venue times are
 * taken to be non-decreasing in seq order (history.ts assumes the same).
 */
import { BarFold } from '../native_market';
import { newestCheckpoint } from './history';
import { type PurgeWatch, purgeCheck } from './purge';
import { OFFSET, RECORD_BYTES } from './records';
import { blocksAfter, type EngineScan } from './state';

/** Bars per answer: a day of 1-second bars fits twice over; a full answer names where to go on. */
export const BARS_LIMIT_MAX = 100_000;
export const BARS_LIMIT_DEFAULT = 10_000;

export interface BarsRequest {
  /** Trades (OHLCV), or the mid of two-sided quotes (OHLC and their count). */
  source: 'trades' | 'mid';
  fromTs: bigint;
  /** Exclusive. */
  toTs: bigint;
  intervalNs: bigint;
  limit: number;
}

/**
 * The bars as JSON array text, and the start of the first bar past a full answer. Bars from
 * before the kept history start at it; with `watch`, a purge that overtakes the read ends it
 * 410 `compacted`.
 */
export async function barsOf(engine: EngineScan, id: number, request: BarsRequest, watch?: PurgeWatch): Promise<{ bars: Buffer; nextTs: bigint | undefined }> {
  const fold = new BarFold({ source: request.source, fromTs: request.fromTs, toTs: request.toTs, intervalNs: request.intervalNs, barsMax: request.limit });
  const after = request.fromTs === 0n ? undefined : await newestCheckpoint(engine, id, (_seq, ts) => ts < request.fromTs);
  const afterSeq = after?.seq ?? 0n;
  let first = true;
  for await (const block of blocksAfter(engine, id, afterSeq, watch && purgeCheck(watch, afterSeq === 0n))) {
    // Only the first block may hold records at or before the checkpoint (already in it).
    const records = first ? recordsAfter(block, afterSeq) : block;
    first = false;
    if (fold.push(records)) break;
  }
  return { bars: fold.renderJson(), nextTs: fold.nextTs };
}

function recordsAfter(block: Buffer, seq: bigint): Buffer {
  let at = 0;
  while (at < block.length && block.readBigUInt64LE(at + OFFSET.seq) <= seq) at += RECORD_BYTES;
  return block.subarray(at);
}
