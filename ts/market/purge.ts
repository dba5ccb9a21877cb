/**
 * Dropping old market data (`DELETE /v1/md/history?before=T`, `Op.MdPurge`): for each
 * instrument, its newest book checkpoint before T becomes the start of what is kept. Events up
 * to that checkpoint and the checkpoints before it go, as two range tombstones; the checkpoint
 * stays as the base from which books after it are rebuilt. So up to `CHECKPOINT_EVERY_EVENTS`
 * of an instrument's events before T stay, and nothing at or after T goes.
 *
 *   \0md/r/<inst>   where the instrument's kept history starts: the checkpoint's seq u64 | tsEvent u64
 *
 * Reads before that start cannot be answered whole: a book as of a time or seq before it is 410
 * `compacted` (as a watch from a dropped revision), a stream from a seq before it too; a replay,
 * ticks or bars starting before it start at it. A read already past its start that a purge
 * overtakes (a ticks page after a seq, a stream's catch-up, a replay session) ends 'compacted'
 * rather than skip what was dropped (`purgedGap`).
 *
 * Deterministic: the purge reads the engine on the applier's thread, and the applier starts a
 * new write batch at each purge entry, so every node reads the same state (every entry before
 * it applied) whatever its batching.
 */
import { QuorumError } from '../errors';
import type { Engine, EngineOp } from '../native';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET } from './records';
import { checkpointKey, checkpointsPrefix, type EngineScan, eventsKey, eventsPrefix, type PageCheck, prefixEnd, scanPrefix } from './state';

const RETAINED_PREFIX = '\u0000md/r/';
const retainedKey = (instrument: number): string => `${RETAINED_PREFIX}${String(instrument).padStart(10, '0')}`;

export interface KeptFrom {
  /** The seq of the checkpoint kept as the base: events after it are kept. */
  seq: bigint;
  /** The venue time of its last event. */
  tsEvent: bigint;
}

/** Where each purged instrument's kept history starts (instruments never purged: absent). */
/**
 * Whether a read of an instrument's blocks after `readSeq`, whose first record is `firstSeq`
 * (undefined: it found none), missed records a purge dropped: the kept start `keptSeq` (an event
 * of the instrument) lies past what was read, and the read did not start at or before it — so
 * the purge applied before the read, and the records in between are gone.
 */
export function purgedGap(keptSeq: bigint | undefined, readSeq: bigint, firstSeq: bigint | undefined): boolean {
  return keptSeq !== undefined && keptSeq > readSeq && (firstSeq === undefined || firstSeq > keptSeq);
}

/** 410 `compacted`: `symbol`'s events up to `keptSeq` were purged; `fromSeq` names where reads can start. */
export function compactedError(symbol: string, keptSeq: bigint, what = 'were purged'): QuorumError {
  return new QuorumError('compacted', `${symbol}'s events up to seq ${keptSeq} ${what}`, { details: { fromSeq: keptSeq.toString() } });
}

/** An instrument whose stored history a read walks, and where its kept history starts now. */
export interface PurgeWatch {
  symbol: string;
  keptSeq: () => bigint | undefined;
}

/**
 * The check for every page of a read of `watch`'s blocks (state.ts `blocksAfter`): a page that
 * begins past the kept start the read had not reached means a purge applied before the page and
 * dropped the records in between — 410 `compacted`, never a silent gap. Checked per page, not
 * once: a purge may land between two pages of one read. `fromKept`: the read started at seq 0,
 * meaning wherever the kept history starts (a first ticks page, bars from before the cut), so its
 * first page cannot miss anything.
 */
export function purgeCheck(watch: PurgeWatch, fromKept = false): PageCheck {
  return (readSeq, firstSeq) => {
    if (fromKept && readSeq === 0n) return;
    const kept = watch.keptSeq();
    if (purgedGap(kept, readSeq, firstSeq)) throw compactedError(watch.symbol, kept!);
  };
}

export class Retention {
  /**
   * Key ranges purged since the last `takeCompactions`: compacted once their batch is durable,
   * so the space comes back now, not at RocksDB's next compaction there. At most two per
   * instrument per purge (bounded by `INSTRUMENTS_MAX`).
   */
  private compactions: [Buffer, Buffer][] = [];

  private constructor(private readonly keptFrom: Map<number, KeptFrom>) {}

  static empty(): Retention {
    return new Retention(new Map());
  }

  /** What `engine` holds (at start, after a snapshot install). */
  static async read(engine: EngineScan): Promise<Retention> {
    const keptFrom = new Map<number, KeptFrom>();
    for await (const [key, value] of scanPrefix(engine, RETAINED_PREFIX)) keptFrom.set(Number(key.slice(RETAINED_PREFIX.length)), { seq: value.readBigUInt64LE(0), tsEvent: value.readBigUInt64LE(8) });
    return new Retention(keptFrom);
  }

  /** The ranges purged since the last call (see `compactions`). */
  takeCompactions(): [Buffer, Buffer][] {
    const out = this.compactions;
    this.compactions = [];
    return out;
  }

  keptFromOf(instrument: number): KeptFrom | undefined {
    return this.keptFrom.get(instrument);
  }

  /**
   * Drops instrument `id`'s events and checkpoints before its newest checkpoint with a venue time
   * before `beforeTs` (read from `engine` as it is: the applier's thread, at a batch's start).
   * Returns where its history now starts, or undefined when nothing more can go.
   */
  purge(engine: Pick<Engine, 'scanNow'>, id: number, beforeTs: bigint, ops: EngineOp[]): KeptFrom | undefined {
    const kept = this.keptFrom.get(id);
    const base = newestCheckpointBefore(engine, id, beforeTs, kept?.seq);
    if (base === undefined || (kept !== undefined && kept.seq >= base.seq)) return undefined;
    // Blocks are keyed by their first seq and hold one batch's records, and a checkpoint ends a
    // batch: every block starting at or before the base's seq ends at or before it.
    const ranges: [Buffer, Buffer][] = [
      [Buffer.from(eventsPrefix(id)), Buffer.from(eventsKey(id, base.seq + 1n))],
      [Buffer.from(checkpointsPrefix(id)), Buffer.from(checkpointKey(id, base.seq))],
    ];
    for (const [key, end] of ranges) ops.push({ op: 'deleteRange', key, end });
    this.compactions.push(...ranges);
    const value = Buffer.alloc(16);
    value.writeBigUInt64LE(base.seq, 0);
    value.writeBigUInt64LE(base.tsEvent, 8);
    ops.push({ op: 'put', key: retainedKey(id), value });
    this.keptFrom.set(id, base);
    return base;
  }
}

/** Checkpoint keys listed per step of the search below. */
const SEARCH_PAGE_KEYS = 256;

/**
 * The newest checkpoint of `id` whose venue time is before `beforeTs`, among those from
 * `fromSeq` on (the kept history's base: the earlier ones are gone). Venue times rise with
 * seqs, so the usable checkpoints are a run from the first: the search lists keys a page at a
 * time (keys only), reads the last book of each page while that one is usable, and binary
 * searches the page where the run ends. On the applier's thread it costs what is cut — a
 * page of keys and a book per `SEARCH_PAGE_KEYS` checkpoints before `beforeTs`, plus about
 * log2(SEARCH_PAGE_KEYS) books — not every checkpoint the instrument keeps.
 */
function newestCheckpointBefore(engine: Pick<Engine, 'scanNow'>, id: number, beforeTs: bigint, fromSeq: bigint | undefined): KeptFrom | undefined {
  const prefix = checkpointsPrefix(id);
  const end = prefixEnd(prefix);
  const start = fromSeq === undefined ? prefix : checkpointKey(id, fromSeq);
  const read = (key: Buffer): KeptFrom => {
    const book = engine.scanNow({ start: key, end, limit: 1 }).items[0].value;
    return { seq: book.readBigUInt64LE(BOOK_SEQ_OFFSET), tsEvent: book.readBigUInt64LE(BOOK_TS_OFFSET) };
  };
  let best: KeptFrom | undefined;
  let after: Buffer | undefined;
  for (;;) {
    const page = engine.scanNow({ start, end, after, limit: SEARCH_PAGE_KEYS, keysOnly: true });
    const keys = page.items.map((item) => item.key);
    if (keys.length === 0) return best;
    const last = read(keys[keys.length - 1]);
    if (last.tsEvent < beforeTs) {
      best = last;
      if (!page.more) return best;
      after = keys[keys.length - 1];
      continue;
    }
    // The run ends in this page. Invariant: usable below `lo`, not at or past `hi`.
    let lo = 0;
    let hi = keys.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const found = read(keys[mid]);
      if (found.tsEvent < beforeTs) {
        best = found;
        lo = mid + 1;
      } else hi = mid;
    }
    return best;
  }
}
