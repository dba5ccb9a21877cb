/**
 * A paced replay's schedule error as the server emits it: for each chunk written, how far its
 * events left from their due times (late or early), counted once per event. What a reader
 * measures adds the kernel's and its own wake-ups; this is the server's part alone, so an
 * operator can tell a pacing fault from a busy host. (A reader too slow to take the chunks
 * holds them back: they leave late, and count so — the session's `lagMs` says why.)
 *
 * Log-spaced buckets, `BUCKETS_PER_DECADE` per decade from 1 µs to 100 s (quantiles are bucket
 * upper edges: at most 12% above the true value); errors under 1 µs count as 0. Fixed memory.
 */
const BUCKETS_PER_DECADE = 20;
const DECADES = 8;
const FLOOR_NS = 1_000;
const BUCKETS = BUCKETS_PER_DECADE * DECADES + 1;

export interface ScheduleErrorSummary {
  p50: number;
  p99: number;
  max: number;
}

export class ScheduleError {
  private readonly counts = new Float64Array(BUCKETS + 1);
  private total = 0;
  private maxNs = 0;

  /** `events` left `errorNs` from their due time (either way). */
  add(errorNs: number, events: number): void {
    if (events <= 0) return;
    const ns = Math.abs(errorNs);
    const bucket = ns <= FLOOR_NS ? 0 : Math.min(BUCKETS, 1 + Math.floor(Math.log10(ns / FLOOR_NS) * BUCKETS_PER_DECADE));
    this.counts[bucket] += events;
    this.total += events;
    this.maxNs = Math.max(this.maxNs, ns);
  }

  get events(): number {
    return this.total;
  }

  /** The error (ms) at or below which a fraction `q` of the events left. */
  quantileMs(q: number): number {
    const rank = q * this.total;
    let seen = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      seen += this.counts[b];
      if (seen >= rank && this.counts[b] > 0) return b === 0 ? 0 : Math.min(this.maxNs, FLOOR_NS * 10 ** (b / BUCKETS_PER_DECADE)) / 1e6;
    }
    return this.maxNs / 1e6;
  }

  /** p50, p99 and max in ms (null before any event). */
  summary(): ScheduleErrorSummary | null {
    if (this.total === 0) return null;
    return { p50: this.quantileMs(0.5), p99: this.quantileMs(0.99), max: this.maxNs / 1e6 };
  }
}
