import test from 'ava';
import { QuorumError } from '../../ts/errors';
import { LIMITER_DEFAULTS, ConcurrencyLimiter } from '../../ts/monitor/limiter';
import { HealthMonitor, MONITOR_DEFAULTS } from '../../ts/monitor/monitor';

const params = { ...LIMITER_DEFAULTS, initialLimit: 8, minLimit: 2, maxLimit: 16, queueMax: 2, queueWaitMs: 20 };

test('requests over the limit queue in order and get the freed slots', async (t) => {
  const l = new ConcurrencyLimiter(params);
  for (let i = 0; i < 8; i++) t.true(l.tryAcquire('write'));
  t.false(l.tryAcquire('write'));
  const order: number[] = [];
  const a = l.acquire('write').then(() => order.push(1));
  const b = l.acquire('write').then(() => order.push(2));
  l.release('write');
  l.release('write');
  await Promise.all([a, b]);
  t.deepEqual(order, [1, 2]);
  t.is(l.snapshot().write.inflight, 8);
  // Other classes have their own limits.
  t.true(l.tryAcquire('read'));
});

test('a full queue sheds at once and a long wait sheds with 429 throttled and Retry-After', async (t) => {
  const l = new ConcurrencyLimiter(params);
  for (let i = 0; i < 8; i++) l.tryAcquire('bulk');
  const waiting = [l.acquire('bulk'), l.acquire('bulk')];
  const full = await l.acquire('bulk').catch((e: unknown) => e);
  t.true(full instanceof QuorumError && full.code === 'throttled' && full.status === 429, String(full));
  const waited = await Promise.allSettled(waiting);
  for (const w of waited) {
    t.is(w.status, 'rejected');
    const err = (w as PromiseRejectedResult).reason as { code: string; headers: Record<string, string> };
    t.is(err.code, 'throttled');
    t.is(err.headers['retry-after'], '1');
  }
  t.is(l.snapshot().bulk.shedTotal, 3);
  t.is(l.snapshot().bulk.queued, 0);
});

test('an anomaly shrinks the lowest busy class first; calm windows grow used limits back', (t) => {
  const l = new ConcurrencyLimiter(params);
  l.tryAcquire('write');
  l.tryAcquire('bulk');
  // Far above normal (ratio 0.1): the largest cut; near it (0.95): the gentlest.
  t.is(l.adapt(true, 0.1), 'bulk');
  t.is(l.snapshot().bulk.limit, Math.floor(8 * params.decreaseMin));
  l.adapt(true, 0.95);
  t.is(l.snapshot().bulk.limit, Math.max(params.minLimit, Math.floor(4 * params.decreaseMax)));
  // Bulk at its floor: writes go next. Ingest, idle, is never touched.
  for (let i = 0; i < 10 && l.snapshot().bulk.limit > params.minLimit; i++) l.adapt(true);
  t.is(l.adapt(true), 'write');
  t.is(l.snapshot().ingest.limit, 8);
  // Calm: only a class using half its limit grows.
  const before = l.snapshot();
  for (let i = 0; i < before.write.limit; i++) l.tryAcquire('write');
  l.adapt(false);
  t.is(l.snapshot().write.limit, before.write.limit + params.increase);
  t.is(l.snapshot().read.limit, 8);
});

test('switched off, everything is admitted and queued waiters are let in', async (t) => {
  const l = new ConcurrencyLimiter(params);
  for (let i = 0; i < 8; i++) l.tryAcquire('ingest');
  const waiter = l.acquire('ingest');
  l.enabled = false;
  l.adapt(false);
  await waiter;
  t.true(l.tryAcquire('ingest'));
  t.is(l.snapshot().ingest.inflight, 10);
});

test('the monitor drives the limiter and records anomaly episodes with their peak', (t) => {
  const l = new ConcurrencyLimiter(params);
  const m = new HealthMonitor(MONITOR_DEFAULTS, l);
  let now = 0;
  const win = (latencyMs: number) => {
    l.tryAcquire('write');
    m.record('latency_write', latencyMs);
    l.release('write');
    now += 100;
    return m.closeWindow(now);
  };
  for (let i = 0; i < 200; i++) win(1 + 0.05 * Math.sin(i));
  t.is(m.events.length, 0);
  const during = [win(5), win(5), win(5), win(6)];
  t.deepEqual(during, [false, false, true, true]);
  t.true(l.snapshot().write.limit < 8);
  t.is(m.events.length, 1);
  t.is(m.events[0].signal, 'latency_write');
  t.is(m.events[0].startMs, now - 300);
  t.true(m.events[0].peakZ > 3);
  for (let i = 0; i < 3; i++) win(1);
  t.is(m.events[0].endMs, now);
  t.is(m.snapshot().latency_write.state, 'normal');
});

test('a disk stall alone holds the limits; queueing beyond the disk excess brings them down', (t) => {
  const run = (writeMs: number) => {
    const l = new ConcurrencyLimiter(params);
    const m = new HealthMonitor(MONITOR_DEFAULTS, l);
    let now = 0;
    const win = (wal: number, write: number) => {
      l.tryAcquire('write');
      m.record('wal_sync', wal);
      m.record('latency_write', write);
      l.release('write');
      m.closeWindow((now += 100));
    };
    for (let i = 0; i < 200; i++) win(2 + 0.1 * Math.sin(i), 5 + 0.2 * Math.cos(i));
    for (let i = 0; i < 10; i++) win(22, writeMs);
    return l.snapshot().write.limit;
  };
  // fsync +20 ms, writes +20 ms: all of it is the disk; shedding would not help.
  t.is(run(25), 8);
  // writes +200 ms with the same disk: queueing, cut.
  t.true(run(205) < 8);
});
