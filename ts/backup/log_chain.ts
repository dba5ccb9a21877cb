/**
 * The shipped log as a chain of segments: from an index, the segments that continue it without a
 * gap. Segments may overlap where two shippers met at a leader change (both hold the same
 * committed entries); the chain takes, at each step, the segment that reaches furthest.
 */
import { QuorumError } from '../errors';
import { manifestsIn, segmentsIn } from './catalog';
import { readSegment, type SegmentName } from './log_segment';
import type { BackupStore } from './store';

export interface Chain {
  segments: SegmentName[];
  /** The last index the chain reaches (`from - 1`: none). */
  reached: number;
}

/** The segments continuing the log from index `from`, as far as they go without a gap (or to `to`). */
export function chainFrom(all: readonly SegmentName[], from: number, to = Number.MAX_SAFE_INTEGER): Chain {
  const segments: SegmentName[] = [];
  let next = from;
  while (next <= to) {
    let best: SegmentName | undefined;
    for (const s of all) if (s.first <= next && s.last >= next && (!best || s.last > best.last)) best = s;
    if (!best) break;
    segments.push(best);
    next = best.last + 1;
  }
  return { segments, reached: next - 1 };
}

/** Ranges of the log no segment holds, between `from` and the last segment's end. */
export function gapsIn(all: readonly SegmentName[], from: number): { first: number; last: number }[] {
  const gaps: { first: number; last: number }[] = [];
  let next = from;
  for (const s of all) {
    if (s.first > next) gaps.push({ first: next, last: s.first - 1 });
    next = Math.max(next, s.last + 1);
  }
  return gaps;
}

export interface LogReport {
  /** The first index the log holds after the oldest full backup, and the last it reaches. */
  first: number | null;
  last: number | null;
  segments: number;
  entries: number;
  /** Ranges no segment holds that a later full backup bridges (the shipper started again from it). */
  gaps: { first: number; last: number }[];
}

/**
 * Reads every segment after the oldest full backup back: each must decode with its checksum, the
 * entries' terms never fall, and every gap must be bridged by a full backup a restore can start
 * from (else `backup_corrupt` naming the gap).
 */
export async function verifyLog(store: BackupStore): Promise<LogReport> {
  const manifests = await manifestsIn(store);
  const from = manifests.length > 0 ? manifests[0].index + 1 : 1;
  const all = (await segmentsIn(store)).filter((s) => s.last >= from);
  const gaps = gapsIn(all, all.length > 0 ? Math.max(from, all[0].first) : from);
  for (const gap of gaps) {
    const resumesAt = all.find((s) => s.first > gap.last)!;
    if (!manifests.some((m) => m.index >= gap.first - 1 && m.index <= resumesAt.last)) {
      throw new QuorumError('backup_corrupt', `the log in ${store.url} has a gap at indexes ${gap.first}..${gap.last} that no full backup bridges`, { details: { gap } });
    }
  }
  let entries = 0;
  let term = 0;
  let index = 0;
  for (const s of all) {
    // Overlapping segments (two shippers at a leader change) hold the same entries: each is checked once.
    for (const e of (await readSegment(store, s.name)).entries) {
      if (e.index <= index) continue;
      if (e.term < term) throw new QuorumError('backup_corrupt', `${s.name}: entry ${e.index} has term ${e.term}, below an earlier entry's ${term}`, { details: { object: s.name } });
      ({ index, term } = e);
      entries++;
    }
  }
  return { first: all.length > 0 ? Math.max(from, all[0].first) : null, last: all.length > 0 ? Math.max(...all.map((s) => s.last)) : null, segments: all.length, entries, gaps };
}
