/** Per-episode figures of the spike experiment, from the open-loop bins. */
import { BIN_MS, type Bin } from './open_loop';
import { percentile } from './report';

export interface WindowStats {
  p50Ms: number;
  p99Ms: number;
  goodputPerS: number;
  shedFraction: number;
  lateFraction: number;
  sent: number;
}

export function windowStats(bins: readonly Bin[], fromMs: number, toMs: number): WindowStats {
  const sel = bins.slice(Math.floor(fromMs / BIN_MS), Math.ceil(toMs / BIN_MS));
  const lat = sel.flatMap((b) => b.latencies);
  const sum = (f: (b: Bin) => number) => sel.reduce((n, b) => n + f(b), 0);
  const sent = sum((b) => b.sent);
  return {
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    goodputPerS: sum((b) => b.ok) / ((toMs - fromMs) / 1000),
    shedFraction: sent === 0 ? 0 : sum((b) => b.shed) / sent,
    lateFraction: sent === 0 ? 0 : sum((b) => b.late) / sent,
    sent,
  };
}

/** p99 per bin (NaN where a bin acknowledged nothing). */
export function p99PerBin(bins: readonly Bin[]): number[] {
  return bins.map((b) => percentile(b.latencies, 99));
}

/**
 * How long after the fault ended until p99 stays within `limitMs` for the rest of the episode
 * (per 100 ms bin; a bin with nothing acknowledged counts as not recovered). Null: never.
 */
export function recoveryMs(bins: readonly Bin[], faultEndMs: number, endMs: number, limitMs: number): number | null {
  const first = Math.ceil(faultEndMs / BIN_MS);
  const last = Math.floor(endMs / BIN_MS) - 1;
  let from: number | null = null;
  for (let i = first; i <= last; i++) {
    const p = percentile(bins[i].latencies, 99);
    const ok = Number.isFinite(p) && p <= limitMs;
    if (!ok) from = null;
    else if (from === null) from = i;
  }
  return from === null ? null : from * BIN_MS - faultEndMs;
}
