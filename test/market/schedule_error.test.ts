/** The replay schedule-error histogram: quantiles within a bucket (12%) of the truth, events weighted. */
import test from 'ava';
import { ScheduleError } from '../../ts/market/schedule_error';

test('quantiles are the events\' errors within 12%, weighted by events, early and late alike', (t) => {
  const h = new ScheduleError();
  t.is(h.summary(), null);
  h.add(200_000, 98); // 0.2 ms late
  h.add(-300_000, 1); // 0.3 ms early
  h.add(5_000_000, 1); // 5 ms late
  const s = h.summary()!;
  t.true(s.p50 >= 0.2 && s.p50 <= 0.2 * 1.12, `p50 ${s.p50}`);
  t.true(s.p99 >= 0.3 && s.p99 <= 0.3 * 1.12, `p99 ${s.p99}`);
  t.is(s.max, 5);
  t.is(h.events, 100);
  h.add(5_000_000, 100);
  t.is(h.summary()!.p99, 5, 'a quantile never exceeds the largest error');
});

test('errors under a microsecond count as on time; no events count nothing', (t) => {
  const h = new ScheduleError();
  h.add(0, 10);
  h.add(500, 10);
  h.add(1_000_000, 0);
  t.deepEqual(h.summary(), { p50: 0, p99: 0, max: 0.0005 });
  t.is(h.events, 20);
});
