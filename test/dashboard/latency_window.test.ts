import test from 'ava';
import { LatencyWindow } from '../../ts/dashboard/latency_window';

test('quantiles are within one bucket (+19%) above the true value; empty windows have none', (t) => {
  const w = new LatencyWindow();
  t.is(w.quantileMs(0.5), null);
  t.is(w.meanMs, null);
  for (let ms = 1; ms <= 1000; ms++) w.record(ms);
  t.is(w.count, 1000);
  for (const [q, truth] of [[0.5, 500], [0.99, 990], [1, 1000]] as const) {
    const got = w.quantileMs(q)!;
    t.true(got >= truth && got <= truth * 2 ** 0.25, `q${q}: ${got} for ${truth}`);
  }
  t.is(w.meanMs, 500.5);
  w.reset();
  t.is(w.count, 0);
  t.is(w.quantileMs(0.99), null);
});

test('tiny and huge latencies land in the end buckets', (t) => {
  const w = new LatencyWindow();
  w.record(0);
  w.record(1e9);
  t.is(w.quantileMs(0.5), 0.01);
  t.true(w.quantileMs(1)! > 100_000);
});
