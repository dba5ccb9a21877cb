/**
 * A paced replay's schedule error as the server emits it: for each chunk written, how far its
 * events left from their due times (late or early), counted once per event. What a reader
 * measures adds the kernel's and its own wake-ups; this is the server's part alone, so an
 * operator can tell a pacing fault from a busy host. (A reader too slow to take the chunks
 * holds them back: they leave late, and count so — the session's `lagMs` says why.)
 *
 * Kept in a `LatencyWindow` at seven buckets per doubling from 1 µs (quantiles are bucket upper
 * edges: at most 10.4% above the true value, up to ~2 minutes); errors under 1 µs count as 0.
 * Fixed memory.
 */
import { LatencyWindow } from '../dashboard/latency_window';

const FIRST_MS = 0.001;
const BUCKETS = { firstMs: FIRST_MS, perDoubling: 7, buckets: 7 * 27 };

export interface ScheduleErrorSummary {
  p50: number;
  p99: number;
  max: number;
}

export class ScheduleError {
  private readonly window = new LatencyWindow(BUCKETS);
  private maxNs = 0;

  /** `events` left `errorNs` from their due time (either way). */
  add(errorNs: number, events: number): void {
    if (events <= 0) return;
    const ns = Math.abs(errorNs);
    this.window.record(ns / 1e6, events);
    this.maxNs = Math.max(this.maxNs, ns);
  }

  get events(): number {
    return this.window.count;
  }

  /** The error (ms) at or below which a fraction `q` of the events left (0 before any). */
  quantileMs(q: number): number {
    const edge = this.window.quantileMs(q) ?? 0;
    return edge <= FIRST_MS ? 0 : Math.min(this.maxNs / 1e6, edge);
  }

  /** p50, p99 and max in ms (null before any event). */
  summary(): ScheduleErrorSummary | null {
    if (this.events === 0) return null;
    return { p50: this.quantileMs(0.5), p99: this.quantileMs(0.99), max: this.maxNs / 1e6 };
  }
}
