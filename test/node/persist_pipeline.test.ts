/** The Ready loop's writes in flight: follow-ups in the order taken, the limit, the first failure. */
import test from 'ava';
import { PersistPipeline } from '../../ts/node/persist_pipeline';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('follow-ups run in the order the writes were pushed, whatever order the writes settle in', async (t) => {
  const errors: Error[] = [];
  const p = new PersistPipeline(8, (err) => errors.push(err));
  const order: number[] = [];
  const writes = [deferred(), deferred(), deferred()];
  writes.forEach((w, i) => p.push(w.promise, true, () => order.push(i)));
  p.push(Promise.resolve(), false, () => order.push(3)); // nothing to sync: still in its place
  writes[2].resolve();
  writes[1].resolve();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, [], 'nothing runs before the oldest write is durable');
  writes[0].resolve();
  await p.drained();
  t.deepEqual(order, [0, 1, 2, 3]);
  t.deepEqual(errors, []);
  t.is(p.inFlight, 0);
});

test('only writes that wait for an fsync count towards the limit; room() frees as the oldest settles', async (t) => {
  const p = new PersistPipeline(2, () => undefined);
  const a = deferred();
  p.push(a.promise, true, () => undefined);
  p.push(Promise.resolve(), false, () => undefined);
  t.false(p.full);
  const b = deferred();
  p.push(b.promise, true, () => undefined);
  t.true(p.full);
  const room = p.room();
  a.resolve();
  await room;
  t.false(p.full);
  b.resolve();
  await p.drained();
  t.is(p.inFlight, 0);
});

test('a failed write stops the chain: no later follow-up runs and the error is reported once', async (t) => {
  const errors: Error[] = [];
  const p = new PersistPipeline(8, (err) => errors.push(err));
  const ran: number[] = [];
  const bad = deferred();
  p.push(Promise.resolve(), true, () => ran.push(0));
  p.push(bad.promise, true, () => ran.push(1));
  p.push(Promise.resolve(), true, () => ran.push(2));
  p.push(Promise.reject(new Error('later failure')), true, () => ran.push(3));
  bad.reject(new Error('fsync failed'));
  await p.drained();
  t.deepEqual(ran, [0]);
  t.deepEqual(errors.map((e) => e.message), ['fsync failed']);
});

test('a follow-up that throws stops the chain like a failed write', async (t) => {
  const errors: Error[] = [];
  const p = new PersistPipeline(8, (err) => errors.push(err));
  const ran: number[] = [];
  p.push(Promise.resolve(), true, () => {
    throw new Error('invariant broken');
  });
  p.push(Promise.resolve(), true, () => ran.push(1));
  await p.drained();
  t.deepEqual(ran, []);
  t.deepEqual(errors.map((e) => e.message), ['invariant broken']);
});

test('the limit must be a positive integer', (t) => {
  t.throws(() => new PersistPipeline(0, () => undefined));
});
