/**
 * Point-in-time restore: a full backup's state rolled forward by the shipped log.
 *
 * The base is the newest full backup at or before the target (an index, a time, or — with
 * neither — the newest backup, rolled forward as far as the log goes without a gap). Its
 * checkpoint is opened in a scratch directory and the log's entries are applied through the
 * node's own `Applier`, segment by segment (`PREFETCH_SEGMENTS` fetched ahead of the one being
 * applied), so the restored state is exactly what a member had at that index.
 *
 * `--time T`: every entry known committed at T, to the shipper's sample resolution
 * (`SAMPLE_MS`): an entry is included when a mark at or after it says it was committed by T.
 */
import { join } from 'node:path';
import { QuorumError } from '../errors';
import { Engine } from '../native';
import { Applier } from '../node/applier';
import { manifestsIn, segmentsIn } from './catalog';
import { chainFrom } from './log_chain';
import { readSegment, type SegmentName } from './log_segment';
import { type Manifest, readManifest } from './manifest';
import type { BackupStore } from './store';

/** Segments downloaded and decoded ahead of the one being applied, by default (each ≤ ~17 MiB decoded). */
export const PREFETCH_SEGMENTS = 4;

export interface PointInTime {
  index?: number;
  timeMs?: number;
  /** Segments fetched ahead while one is applied (default `PREFETCH_SEGMENTS`; at least 1). */
  prefetchSegments?: number;
}

export interface RestorePlan {
  base: Manifest;
  segments: SegmentName[];
  /** The index the log reaches from the base (the base's own with no log). */
  reached: number;
}

/** The base backup and the segments a restore to `at` needs (refused, naming why, if there are none). */
export async function planRestore(store: BackupStore, at: PointInTime): Promise<RestorePlan> {
  const all = await manifestsIn(store);
  if (all.length === 0) throw new QuorumError('backup_object_missing', `no backup in ${store.url}`);
  let base: Manifest | undefined;
  for (let i = all.length - 1; i >= 0 && !base; i--) {
    if (at.index !== undefined && all[i].index > at.index) continue;
    const m = await readManifest(store, all[i].name);
    if (at.timeMs === undefined || m.createdMs <= at.timeMs) base = m;
  }
  if (!base) {
    const what = at.index !== undefined ? `index ${at.index}` : `${new Date(at.timeMs!).toISOString()}`;
    throw new QuorumError('backup_object_missing', `no full backup at or before ${what} in ${store.url} (the oldest is at index ${all[0].index})`);
  }
  const chain = chainFrom(await segmentsIn(store), base.index + 1, at.index);
  if (at.index !== undefined && chain.reached < at.index) {
    throw new QuorumError('backup_object_missing', `the log in ${store.url} continues the backup at index ${base.index} only to index ${chain.reached}, not to ${at.index}`, { details: { reached: chain.reached } });
  }
  return { base, segments: chain.segments, reached: chain.reached };
}

/** Segments fetched and decoded up to `depth` ahead of the one being applied (1: one at a time). */
function prefetched(store: BackupStore, names: readonly SegmentName[], depth: number): { next(i: number): ReturnType<typeof readSegment> } {
  const ahead = new Map<number, ReturnType<typeof readSegment>>();
  const fetch = (i: number) => {
    const p = readSegment(store, names[i].name);
    p.catch(() => undefined); // awaited in order by next(); a restore that stops early leaves the rest
    ahead.set(i, p);
  };
  return {
    next(i) {
      for (let j = i; j < Math.min(names.length, i + depth); j++) if (!ahead.has(j)) fetch(j);
      const p = ahead.get(i)!;
      ahead.delete(i);
      return p;
    },
  };
}

/**
 * Applies the plan's log (up to `at`) to the checkpoint in `checkpointDir`, working in `scratch`;
 * the result is a new checkpoint, `dir`.
 */
export async function rollForward(store: BackupStore, plan: RestorePlan, checkpointDir: string, scratch: string, at: PointInTime, onEntries?: (n: number) => void): Promise<{ index: number; term: number; dir: string }> {
  const engine = Engine.openFromCheckpoint(checkpointDir, join(scratch, 'engine'));
  let failure: Error | undefined;
  const applier = new Applier(engine, plan.base.members, () => undefined, (err) => (failure = err));
  let index = plan.base.index;
  let term = plan.base.term;
  try {
    await applier.loadState();
    const stopAt = at.index ?? Number.MAX_SAFE_INTEGER;
    const segments = prefetched(store, plan.segments, Math.max(1, at.prefetchSegments ?? PREFETCH_SEGMENTS));
    for (let i = 0; i < plan.segments.length; i++) {
      const { header, entries } = await segments.next(i);
      if (header.clusterId !== undefined && plan.base.clusterId !== undefined && header.clusterId !== plan.base.clusterId) {
        throw new QuorumError('backup_corrupt', `${plan.segments[i].name} belongs to cluster ${header.clusterId}, the backup at index ${plan.base.index} to cluster ${plan.base.clusterId}`);
      }
      let limit = stopAt;
      const late = at.timeMs !== undefined && header.marks.some((m) => m[1] > at.timeMs!);
      // Marks rise in index and time: the newest mark by T bounds what was committed by T.
      if (late) limit = Math.min(limit, Math.max(index, ...header.marks.filter((m) => m[1] <= at.timeMs!).map((m) => m[0])));
      const take = entries.filter((e) => e.index > index && e.index <= limit);
      if (take.length > 0) {
        applier.push(take);
        await applier.idle();
        if (failure) throw failure;
        ({ index, term } = take[take.length - 1]);
        onEntries?.(take.length);
      }
      if (late || index >= stopAt) break;
    }
    if (applier.applied !== index) throw new QuorumError('INVARIANT', `the restored state is at ${applier.applied}, the log at ${index}`);
    const dir = join(scratch, 'final');
    await engine.checkpoint(dir);
    return { index, term, dir };
  } finally {
    engine.close();
  }
}
