/**
 * RouteStats renders the same samples prom-client does for the same observations (so scrapers,
 * dashboards and the Prometheus test see no difference), and bounds its routes.
 */
import test from 'ava';
import { Counter, exponentialBuckets, Histogram, Registry } from 'prom-client';
import { ROUTES_MAX, RouteStats } from '../../ts/monitor/route_stats';
import { seededRandom } from '../helpers/random';

const BUCKETS = exponentialBuckets(0.0005, 2, 15);

/** Sample lines (no comments), as a sorted list; values compared as numbers to 9 digits. */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const at = l.lastIndexOf(' ');
      return `${l.slice(0, at)} ${Number(l.slice(at + 1)).toPrecision(9)}`;
    })
    .sort();
}

test('the text equals prom-client’s for the same observations', async (t) => {
  const registry = new Registry();
  const counter = new Counter({ name: 'x_http_requests_total', help: 'h', labelNames: ['route', 'code'], registers: [registry] });
  const histogram = new Histogram({ name: 'x_http_request_duration_seconds', help: 'h', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
  const ours = new RouteStats('x_http_requests_total', 'x_http_request_duration_seconds', BUCKETS);
  const random = seededRandom(3);
  const routes = ['/v1/kv/{key}', '/v1/md/events', 'a "quoted" \\ route'];
  for (let i = 0; i < 5000; i++) {
    const route = routes[Math.floor(random() * routes.length)];
    const status = [200, 201, 404, 429, 503][Math.floor(random() * 5)];
    // Exact bucket bounds included: `le` is inclusive.
    const seconds = random() < 0.1 ? BUCKETS[Math.floor(random() * BUCKETS.length)] : random() ** 4 * 20;
    counter.inc({ route, code: `${Math.floor(status / 100)}xx` });
    histogram.observe({ route }, seconds);
    ours.observe(route, status, seconds);
  }
  t.deepEqual(samples(ours.render()), samples(await registry.metrics()));
});

test('routes past ROUTES_MAX are counted under route="other"', (t) => {
  const ours = new RouteStats('r_total', 'r_seconds', [0.1, 1]);
  for (let i = 0; i < ROUTES_MAX + 10; i++) ours.observe(`/r/${i}`, 200, 0.5);
  const text = ours.render();
  t.true(text.includes(`r_total{route="/r/${ROUTES_MAX - 1}",code="2xx"} 1`));
  t.false(text.includes(`route="/r/${ROUTES_MAX}"`));
  t.true(text.includes('r_total{route="other",code="2xx"} 10'));
  t.true(text.includes('r_seconds_bucket{le="1",route="other"} 10'));
});
