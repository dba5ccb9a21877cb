/**
 * The request path's two series — `http_requests_total{route,code}` and the
 * `http_request_duration_seconds{route}` histogram — kept as plain counts per route template and
 * rendered as Prometheus text at scrape time. They are touched on every request: prom-client
 * hashes a label object per observe (two per request) and, at scrape, builds an object per
 * bucket per route, which held the event loop ~0.5 ms (p50) to 2 ms (p99) alone
 * (`npm run bench:scrape`). Here an observe is one map lookup and three increments; a render is
 * one string per series.
 *
 * Limit: `ROUTES_MAX` route templates; later ones are counted under route="other" (templates
 * are a fixed set from the router, so reaching it means a caller passed raw paths).
 */

export const ROUTES_MAX = 256;
const OTHER = 'other';
/** Status classes 1xx..5xx; anything else counts as 5xx (an answer outside HTTP's classes is a fault). */
const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface RouteCounts {
  /** Answers per status class, indexed like CODE_CLASSES. */
  codes: Float64Array;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  buckets: Float64Array;
  sumSeconds: number;
}

export class RouteStats {
  private readonly routes = new Map<string, RouteCounts>();

  constructor(
    private readonly requestsName: string,
    private readonly secondsName: string,
    /** Upper bounds, increasing (`le`). */
    private readonly boundsSeconds: readonly number[],
  ) {
    for (let i = 1; i < boundsSeconds.length; i++) if (!(boundsSeconds[i] > boundsSeconds[i - 1])) throw new Error('histogram bounds must increase');
  }

  observe(route: string, status: number, seconds: number): void {
    const counts = this.routes.get(route) ?? this.add(route);
    const cls = Math.floor(status / 100) - 1;
    counts.codes[cls >= 0 && cls < CODE_CLASSES.length ? cls : CODE_CLASSES.length - 1]++;
    let b = 0;
    while (b < this.boundsSeconds.length && seconds > this.boundsSeconds[b]) b++;
    counts.buckets[b]++;
    counts.sumSeconds += seconds;
  }

  private add(route: string): RouteCounts {
    if (this.routes.size >= ROUTES_MAX) return this.routes.get(OTHER) ?? this.create(OTHER);
    return this.create(route);
  }

  private create(route: string): RouteCounts {
    const counts = { codes: new Float64Array(CODE_CLASSES.length), buckets: new Float64Array(this.boundsSeconds.length + 1), sumSeconds: 0 };
    this.routes.set(route, counts);
    return counts;
  }

  /** Both series in Prometheus text format (routes in first-seen order). */
  render(): string {
    const requests = [`# HELP ${this.requestsName} HTTP requests answered, by route template and status class`, `# TYPE ${this.requestsName} counter`];
    const seconds = [`# HELP ${this.secondsName} Time from arrival to answer (queueing included), by route template`, `# TYPE ${this.secondsName} histogram`];
    for (const [route, counts] of this.routes) {
      const label = `route="${escapeLabel(route)}"`;
      counts.codes.forEach((n, i) => {
        if (n > 0) requests.push(`${this.requestsName}{${label},code="${CODE_CLASSES[i]}"} ${n}`);
      });
      let cumulative = 0;
      counts.buckets.forEach((n, i) => {
        cumulative += n;
        const le = i < this.boundsSeconds.length ? String(this.boundsSeconds[i]) : '+Inf';
        seconds.push(`${this.secondsName}_bucket{le="${le}",${label}} ${cumulative}`);
      });
      seconds.push(`${this.secondsName}_sum{${label}} ${counts.sumSeconds}`, `${this.secondsName}_count{${label}} ${cumulative}`);
    }
    return `${requests.join('\n')}\n\n${seconds.join('\n')}\n`;
  }
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
