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
  const a = l.acquire('write').then((ok) => ok && order.push(1));
  const b = l.acquire('write').then((ok) => ok && order.push(2));
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
  t.false(await l.acquire('bulk'), 'a full queue sheds at once');
  t.deepEqual(await Promise.all(waiting), [false, false], 'the waits ran out');
  const err = l.shedError('bulk');
  t.true(err instanceof QuorumError && err.code === 'throttled' && err.status === 429, String(err));
  t.is(err.headers['retry-after'], '1');
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
  t.is(l.snapshot().write.limit, Math.min(params.maxLimit, before.write.limit + params.increase));
  t.true(l.snapshot().write.limit > before.write.limit);
  t.is(l.snapshot().read.limit, 8);
});

test('switched off, everything is admitted and queued waiters are let in', async (t) => {
  const l = new ConcurrencyLimiter(params);
  for (let i = 0; i < 8; i++) l.tryAcquire('ingest');
  const waiter = l.acquire('ingest');
  l.enabled = false;
  l.adapt(false);
  t.true(await waiter);
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

test('a disk stall never cuts the classes that wait on it, nor those above them; bulk gives way', (t) => {
  const run = (writeMs: number, wal = 22, readMs = 1) => {
    const l = new ConcurrencyLimiter(params);
    const m = new HealthMonitor(MONITOR_DEFAULTS, l);
    let now = 0;
    const win = (walMs: number, write: number, read: number) => {
      for (const c of ['write', 'read', 'bulk'] as const) l.tryAcquire(c);
      m.record('wal_sync', walMs);
      m.record('latency_write', write);
      m.record('latency_read', read);
      m.record('latency_bulk', 1);
      for (const c of ['write', 'read', 'bulk'] as const) l.release(c);
      m.closeWindow((now += 100));
    };
    for (let i = 0; i < 200; i++) win(2 + 0.1 * Math.sin(i), 5 + 0.2 * Math.cos(i), 1 + 0.05 * Math.sin(i));
    for (let i = 0; i < 10; i++) win(wal, writeMs, readMs);
    return l.snapshot();
  };
  // The disk stalls and writes slow down with it: bulk (the lowest class) is shed, writes and
  // reads keep their limits.
  const stalled = run(205);
  t.is(stalled.write.limit, 8);
  t.is(stalled.read.limit, 8);
  t.true(stalled.bulk.limit < 8);
  // Bulk at its floor: still nothing above it is cut, even with reads slowing down too.
  const worse = run(205, 22, 10);
  t.is(worse.write.limit, 8);
  t.is(worse.read.limit, 8);
  // The same write latency with a healthy disk is queueing: once bulk is at its floor, writes go.
  t.true(run(205, 2).write.limit < 8);
});

test('a limit never comes below the concurrency its recent rate needs at baseline latency', (t) => {
  const l = new ConcurrencyLimiter({ ...params, initialLimit: 64, maxLimit: 64, minLimit: 1 });
  // 100 completions per 100 ms window = 1 per ms; at a 10 ms baseline that needs 10 in flight.
  for (let i = 0; i < 100; i++) {
    l.tryAcquire('write');
    l.release('write');
  }
  l.tryAcquire('write');
  for (let i = 0; i < 20; i++) l.adapt(true, 0.1, { write: 10 }, 100);
  t.is(l.snapshot().write.limit, Math.ceil(params.bdpGain * 1 * 10));
  // Without a baseline (the detector still warming up) only the minimum holds.
  const m = new ConcurrencyLimiter({ ...params, initialLimit: 64, maxLimit: 64, minLimit: 1 });
  m.tryAcquire('write');
  for (let i = 0; i < 20; i++) m.adapt(true, 0.1, {}, 100);
  t.is(m.snapshot().write.limit, 1);
});

test('a request is shed at once when the queue ahead cannot drain within the wait at the current rate', async (t) => {
  const l = new ConcurrencyLimiter({ ...params, maxLimit: 8, queueMax: 100, queueWaitMs: 20 });
  // Last window: 10 completions per 100 ms, i.e. one per 10 ms.
  for (let i = 0; i < 10; i++) {
    l.tryAcquire('write');
    l.release('write');
  }
  for (let i = 0; i < 8; i++) l.tryAcquire('write');
  l.adapt(false, 1, {}, 100);
  const first = l.acquire('write');
  // One waiting: a second would wait about 2 × 10 ms — inside 20 ms, so it queues.
  const second = l.acquire('write');
  t.is(l.snapshot().write.queued, 2);
  // A third faces 3 × 10 ms > 20 ms: shed without queueing.
  t.false(await l.acquire('write'));
  t.is(l.snapshot().write.queued, 2);
  l.release('write');
  l.release('write');
  t.deepEqual(await Promise.all([first, second]), [true, true]);
});

test('during a disk stall a disk-bound class grows at once to what its rate needs at its current latency', (t) => {
  const l = new ConcurrencyLimiter({ ...params, initialLimit: 16, maxLimit: 1024, minLimit: 1 });
  // 100 completions per 100 ms window = 1 per ms.
  for (let i = 0; i < 100; i++) {
    l.tryAcquire('write');
    l.release('write');
  }
  for (let i = 0; i < 16; i++) l.tryAcquire('write');
  // The disk is slow and writes take 60 ms: 1/ms × 60 ms × 1.5 = 90 in flight are needed.
  l.adapt(true, 0.1, { write: 5 }, 100, new Set(['write']), { write: 60 });
  t.is(l.snapshot().write.limit, Math.ceil(params.bdpGain * 1 * 60));
});
