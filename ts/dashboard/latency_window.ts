/**
 * Latencies of one second for the dashboard: counts in log-spaced buckets (four per doubling
 * from 10 µs, so a quantile is within +19% of the true value), reset each sample. Recording is
 * one log2 and one increment: cheap enough for every answered request.
 */
const BUCKETS = 100;
const FIRST_MS = 0.01;
const PER_DOUBLING = 4;

export class LatencyWindow {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sumMs = 0;

  record(ms: number): void {
    const i = ms <= FIRST_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log2(ms / FIRST_MS) * PER_DOUBLING));
    this.counts[i]++;
    this.n++;
    this.sumMs += ms;
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
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return FIRST_MS * 2 ** (i / PER_DOUBLING);
    }
    throw new Error(`latency window: rank ${rank} beyond ${this.n} samples`);
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sumMs = 0;
  }
}
