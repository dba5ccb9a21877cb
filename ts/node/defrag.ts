/**
 * An operator's defrag of one member (etcd's `defrag`; `POST /v1/maintenance/defrag`).
 *
 * Deleting keys, purging market data or overwriting values frees no disk by itself: RocksDB
 * keeps the old values in its files until a compaction merges them with what replaced them, and
 * background compaction follows writes — a store that takes no more writes (one under the
 * disk-space alarm) may keep them for good. A defrag compacts every key into the last level now.
 * The latest snapshot is a checkpoint of hard links to the engine's files, so the old files stay
 * on disk until the next snapshot replaces it: the member cuts one right after
 * (`SnapshotLifecycle.defrag`).
 *
 * Space: a compaction writes its output before anything is freed (the snapshot still links the
 * inputs). The output holds at most the live keys and values, which are counted first (RocksDB's
 * own estimate ignores range deletes: a store emptied by one was estimated at its files' size),
 * plus the memtables it flushes. With less free than that, and a margin, the defrag is refused
 * 507 `no_space` rather than started: RocksDB stops taking writes on ENOSPC and the node would
 * exit.
 */
import { QuorumError } from '../errors';
import type { Engine } from '../native';

/** Free space a defrag leaves beside its output (the files' own index and filter blocks, the engine's logs). */
export const DEFRAG_HEADROOM_BYTES = 8 * 2 ** 20;
/** Live bytes are raw; an SST holding them uncompressed adds blocks' framing and indexes. */
const SST_OVERHEAD_RATIO = 1.1;

/** What a defrag did (the answer of `POST /v1/maintenance/defrag`, with the member's id). */
export interface DefragReport {
  /** Bytes of every key and value when it began (what the engine holds, whatever its files). */
  liveBytes: number;
  /** Bytes of the engine's SST files in use, before and after. */
  sstBytesBefore: number;
  sstBytesAfter: number;
  /** Free bytes on the data directory's file system when it began. */
  freeBytesBefore: number;
  durationMs: number;
  /**
   * The snapshot cut after it, which dropped the previous one's links to the replaced files;
   * null when none could be cut (the last snapshot had the applied index, and the member's own
   * entry could not be committed: no leader): the next entry it applies cuts one, and the old
   * files are freed then.
   */
  snapshotIndex: number | null;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Free bytes a defrag needs: its output at most (`liveBytes` of keys and values, `memtableBytes` flushed) and the margin. */
export function defragNeedsBytes(liveBytes: number, memtableBytes: number): number {
  return Math.ceil(liveBytes * SST_OVERHEAD_RATIO) + memtableBytes + DEFRAG_HEADROOM_BYTES;
}

/** Compacts the whole engine, unless `freeBytes` is too little for its output (507 `no_space`). */
export async function compactEngine(engine: Engine, freeBytes: number): Promise<Omit<DefragReport, 'snapshotIndex'>> {
  const started = performance.now();
  const liveBytes = await engine.liveBytes();
  const before = engine.sizes();
  const needed = defragNeedsBytes(liveBytes, before.memtableBytes);
  if (freeBytes < needed) {
    throw new QuorumError(
      'no_space',
      `a defrag writes the live keys and values (${mib(liveBytes)}) before it frees anything: ${mib(freeBytes)} free, ${mib(needed)} needed — delete keys or purge market data first, or grow the disk`,
      { details: { freeBytes, neededBytes: needed, liveBytes } },
    );
  }
  await engine.compactAll();
  return { liveBytes, sstBytesBefore: before.liveSstBytes, sstBytesAfter: engine.sizes().liveSstBytes, freeBytesBefore: freeBytes, durationMs: Math.round(performance.now() - started) };
}
