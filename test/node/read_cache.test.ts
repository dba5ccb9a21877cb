/**
 * The read cache: bounded by entries and bytes (oldest dropped), user keys only, and coherent
 * with the applied state — a key read through the applier after each batch answers exactly
 * what the engine holds.
 */
import test from 'ava';
import { Applier } from '../../ts/node/applier';
import { encodeCommand, encodeStored, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { ReadCache } from '../../ts/node/read_cache';
import { Engine } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';

test('bounded by entries and bytes, oldest first; reserved keys are never cached', (t) => {
  const cache = new ReadCache(3, 100);
  const v = (n: number) => Buffer.alloc(n);
  cache.applied([{ op: 'put', key: 'a', value: v(10) }, { op: 'put', key: 'b', value: v(10) }, { op: 'put', key: 'c', value: v(10) }, { op: 'put', key: '\u0000idem/k/x', value: v(10) }]);
  t.is(cache.size, 3);
  cache.fill('d', v(10));
  t.is(cache.get('a'), undefined, 'the oldest went first');
  t.truthy(cache.get('d'));
  cache.applied([{ op: 'put', key: 'e', value: v(95) }]);
  t.is(cache.size, 1, 'a 95-byte value leaves room for nothing else under 100 bytes');
  cache.applied([{ op: 'delete', key: 'e' }]);
  t.is(cache.get('e'), undefined);
});

test('a write to a cached key updates it in place: its bytes are recounted, its place kept', (t) => {
  const cache = new ReadCache(10, 100);
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(10) }, { op: 'put', key: 'b', value: Buffer.alloc(10) }]);
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(85) }]);
  t.is(cache.size, 2);
  t.is(cache.get('a')?.length, 85);
  // 105 bytes now: the first inserted (a, though written last) goes, and only it.
  cache.applied([{ op: 'put', key: 'c', value: Buffer.alloc(10) }]);
  t.is(cache.get('a'), undefined);
  t.truthy(cache.get('b'));
  t.truthy(cache.get('c'));
  // Shrinking a value frees its bytes: 20 + 70 fits under 100 with nothing evicted.
  cache.applied([{ op: 'put', key: 'b', value: Buffer.alloc(1) }, { op: 'put', key: 'd', value: Buffer.alloc(79) }]);
  t.is(cache.size, 3);
});

test('a rendered item is kept until its key is written, and its bytes count toward the limit', (t) => {
  const cache = new ReadCache(10, 100);
  let renders = 0;
  const render = (key: string, stored: Buffer) => (renders++, Buffer.from(`${key}:${stored.length}`.padEnd(40, '.')));
  const item = (key: string) => cache.item(key, { slot: 0, render })?.toString();
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(10) }, { op: 'put', key: 'b', value: Buffer.alloc(10) }]);
  t.is(item('a'), 'a:10'.padEnd(40, '.'));
  t.is(item('a'), 'a:10'.padEnd(40, '.'));
  t.is(renders, 1, 'rendered once for two reads');
  t.is(item('zz'), undefined, 'not cached: the caller asks the engine');
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(20) }]);
  t.is(item('a'), 'a:20'.padEnd(40, '.'), 'a write drops the old item');
  t.is(renders, 2);
  // 20 + 40 (a) + 10 (b) = 70 bytes; b's item makes 110: the oldest (a) goes, b stays.
  t.is(item('b'), 'b:10'.padEnd(40, '.'));
  t.is(cache.get('a'), undefined);
  t.is(cache.size, 1);
});

test('the two answer shapes of a key are kept side by side, both dropped by a write, both counted', (t) => {
  const cache = new ReadCache(10, 200);
  const renders = [0, 0];
  const shape = (slot: 0 | 1, width: number) => ({ slot, render: (key: string, stored: Buffer) => (renders[slot]++, Buffer.from(`${slot}:${key}:${stored.length}`.padEnd(width, '.'))) });
  const keyed = shape(0, 40);
  const positional = shape(1, 30);
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(10) }, { op: 'put', key: 'b', value: Buffer.alloc(10) }]);
  t.is(cache.item('a', keyed)?.toString(), '0:a:10'.padEnd(40, '.'));
  t.is(cache.item('a', positional)?.toString(), '1:a:10'.padEnd(30, '.'));
  t.is(cache.item('a', keyed)?.toString(), '0:a:10'.padEnd(40, '.'));
  t.deepEqual(renders, [1, 1], 'each shape rendered once');
  cache.applied([{ op: 'put', key: 'a', value: Buffer.alloc(20) }]);
  t.is(cache.item('a', positional)?.toString(), '1:a:20'.padEnd(30, '.'));
  t.is(cache.item('a', keyed)?.toString(), '0:a:20'.padEnd(40, '.'));
  t.deepEqual(renders, [2, 2], 'a write dropped both');
  // a: 20 + 40 + 30, b: 10 = 100 bytes; b's two items (40 + 30) make 170, a third key's 40 more pass 200.
  t.truthy(cache.item('b', keyed));
  t.truthy(cache.item('b', positional));
  t.is(cache.size, 2);
  cache.applied([{ op: 'put', key: 'c', value: Buffer.alloc(40) }]);
  t.is(cache.get('a'), undefined, 'the oldest went, its items counted with it');
  t.is(cache.size, 2);
});

test('past the entry limit 1/16 of it is evicted at once (one pass over the Map per many inserts)', (t) => {
  const cache = new ReadCache(32, 1 << 20);
  for (let i = 0; i < 32; i++) cache.fill(`k${i}`, Buffer.alloc(1));
  t.is(cache.size, 32);
  cache.fill('k32', Buffer.alloc(1));
  t.is(cache.size, 30, 'down to 32 - 32/16');
  t.is(cache.get('k0'), undefined);
  t.is(cache.get('k2'), undefined);
  t.truthy(cache.get('k3'));
  t.truthy(cache.get('k32'));
  cache.fill('k33', Buffer.alloc(1));
  t.is(cache.size, 31, 'no pass until the limit is passed again');
});

/** A read answered at once (no pooled write in flight). */
function now<T>(read: T[] | Promise<T[]>): T[] {
  if (!Array.isArray(read)) throw new Error('the read waits for a pooled write');
  return read;
}

test('reads through the applier see every applied batch (puts, deletes, txn writes)', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  let index = 0;
  const apply = async (...commands: Parameters<typeof encodeCommand>[0][]) => {
    applier.push(commands.map((c) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand(c) })));
    await applier.idle();
  };
  // Items render the stored bytes; the cache keeps a rendered item until its key is written.
  const render = (key: string, stored: Buffer) => Buffer.from(`${key}=${stored.toString('hex')}`);
  const shape = { slot: 0, render } as const;
  const fromEngine = (key: string) => {
    const stored = engine.get(key);
    return stored ? render(key, stored) : undefined;
  };
  const value = (key: string) => {
    const [item] = now(applier.readItems([key], shape));
    return item === undefined ? undefined : Buffer.from(item.toString().split('=')[1], 'hex').subarray(8).toString();
  };
  const agree = (keys: string[]) => {
    t.deepEqual(applier.readItems(keys, shape), keys.map(fromEngine), 'read through the cache');
    t.deepEqual(applier.readItems(keys, shape), keys.map(fromEngine), 'read again (rendered items kept)');
  };
  await apply({ op: Op.Put, origin: 1, seq: 1, key: 'a', value: Buffer.from('1') });
  t.is(value('a'), '1');
  t.deepEqual(applier.readItems(['a'], shape), [render('a', encodeStored(1, Buffer.from('1')))]);
  await apply({ op: Op.Put, origin: 1, seq: 2, key: 'a', value: Buffer.from('2') }, { op: Op.Put, origin: 1, seq: 3, key: 'b', value: Buffer.from('3') });
  t.is(value('a'), '2');
  agree(['a', 'b', 'zz']);
  await apply({ op: Op.Delete, origin: 1, seq: 4, key: 'a' });
  t.is(value('a'), undefined);
  await apply({ op: Op.Txn, origin: 1, seq: 5, key: '', txn: { compare: [], success: [{ kind: 'put', key: 'b', value: Buffer.from('4') }, { kind: 'put', key: 'a', value: Buffer.from('5') }], failure: [] } });
  agree(['a', 'b']);
  t.is(value('b'), '4');
});
