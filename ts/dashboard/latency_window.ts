/**
 * Latencies of one second for the dashboard: counts in log-spaced buckets (by default four per
 * doubling from 10 µs, so a quantile is within +19% of the true value), reset each sample.
 * Recording is one log2 and one increment: cheap enough for every answered request. Other
 * resolutions (a replay's schedule error) pass their own first bucket and buckets per doubling.
 */
export interface LatencyBuckets {
  /** The first bucket's upper bound: everything at or below it lands there. */
  firstMs: number;
  perDoubling: number;
  buckets: number;
}

const DEFAULT_BUCKETS: LatencyBuckets = { firstMs: 0.01, perDoubling: 4, buckets: 100 };

export class LatencyWindow {
  private readonly counts: Float64Array;
  private n = 0;
  private sumMs = 0;

  constructor(private readonly spec: LatencyBuckets = DEFAULT_BUCKETS) {
    this.counts = new Float64Array(spec.buckets);
  }

  /** `times` samples of `ms` each. */
  record(ms: number, times = 1): void {
    const { firstMs, perDoubling, buckets } = this.spec;
    const i = ms <= firstMs ? 0 : Math.min(buckets - 1, Math.ceil(Math.log2(ms / firstMs) * perDoubling));
    this.counts[i] += times;
    this.n += times;
    this.sumMs += ms * times;
  }

  get count(): number {
    return this.n;
  }

  get meanMs(): number | null {
    return this.n === 0 ? null : this.sumMs / this.n;
  }

  /** The upper bound of the bucket holding quantile `q` (0..1), or null without samples. */
  quantileMs(q: number): number | null {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < this.spec.buckets; i++) {
      seen += this.counts[i];
      if (seen >= rank) return this.spec.firstMs * 2 ** (i / this.spec.perDoubling);
    }
    throw new Error(`latency window: rank ${rank} beyond ${this.n} samples`);
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sumMs = 0;
  }
}
