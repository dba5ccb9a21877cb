/**
 * A confirmed ReadIndex round's reads are served in slices by keys, one slice per turn (so the
 * answers of one slice leave before the next is served).
 */
import test from 'ava';
import { inSlices, READ_SLICE_KEYS } from '../../ts/node/read_rounds';

const reads = (...keys: number[]) => keys.map((k, i) => ({ id: i, keys: k }));

test('slices hold at most keysMax keys, at least one read each, in order; the first now, each next deferred', (t) => {
  const items = reads(1, 1, 300, 100, 100, 100, 1);
  const slices: number[][] = [];
  const deferred: (() => void)[] = [];
  inSlices(items, 256, (s) => slices.push(s.map((r) => r.id)), (next) => deferred.push(next));
  t.deepEqual(slices, [[0, 1]], 'the first slice at once');
  while (deferred.length > 0) {
    const before = slices.length;
    deferred.shift()!();
    t.is(slices.length, before + 1, 'one slice per deferred turn');
  }
  t.deepEqual(slices, [[0, 1], [2], [3, 4], [5, 6]]);
});

test('nothing to serve: nothing called, nothing deferred', (t) => {
  inSlices([], 256, () => t.fail(), () => t.fail());
  t.pass();
});

test('with real turns, another task runs between slices', async (t) => {
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    inSlices(reads(READ_SLICE_KEYS, READ_SLICE_KEYS, READ_SLICE_KEYS), READ_SLICE_KEYS, (s) => {
      order.push(`slice ${s[0].id}`);
      if (s[0].id === 0) setImmediate(() => order.push('other'));
      if (s[0].id === 2) resolve();
    });
  });
  t.deepEqual(order, ['slice 0', 'other', 'slice 1', 'slice 2'], 'what slice 0 queued ran before slice 1');
});
