import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';

import { NativeError } from '../../ts/errors';
import { APPLY_NOW_BYTES_MAX, Engine, packBatch } from '../../ts/native';
import { decodeStored, encodeStored } from '../../ts/node/commands';
import { tempDir } from '../helpers/tmp';

const v = (s: string) => Buffer.from(s);

test('apply, get, multiGet and the applied index survive a reopen', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  t.is(engine.appliedIndex(), 0);
  t.is(await engine.apply([{ op: 'put', key: 'a', value: v('1') }, { op: 'put', key: 'b', value: v('2') }], 10), 2);
  await engine.apply([{ op: 'delete', key: 'a' }], 11);
  t.is(engine.get('a'), undefined);
  t.is(engine.get('b')?.toString(), '2');
  t.deepEqual(engine.multiGet(['b', 'missing', 'a']).map((x) => x?.toString()), ['2', undefined, undefined]);
  await engine.flush();
  engine.close();
  const again = Engine.open(dir);
  t.is(again.appliedIndex(), 11);
  t.is(again.get('b')?.toString(), '2');
  again.close();
});

test('a put with a revision stores the KV form: the revision, then the value', (t) => {
  const revision = 2 ** 40 + 7;
  const packed = packBatch([{ op: 'put', key: 'k', value: v('"x"'), revision }, { op: 'delete', key: 'gone' }, { op: 'put', key: 'raw', value: v('1') }]);
  t.deepEqual(packed, packBatch([{ op: 'put', key: 'k', value: encodeStored(revision, v('"x"')) }, { op: 'delete', key: 'gone' }, { op: 'put', key: 'raw', value: v('1') }]));
  t.deepEqual(decodeStored(encodeStored(revision, v('"x"'))), { revision, value: v('"x"') });
});

test('scan pages through a prefix with a resume key', async (t) => {
  const engine = Engine.open(tempDir(t));
  const keys = Array.from({ length: 23 }, (_, i) => `k/${String(i).padStart(2, '0')}`);
  await engine.apply(keys.map((key) => ({ op: 'put' as const, key, value: v(key) })).concat([{ op: 'put', key: 'z', value: v('z') }]), 1);
  const seen: string[] = [];
  let after: Buffer | undefined;
  for (;;) {
    const page = await engine.scan({ prefix: 'k/', after, limit: 10 });
    seen.push(...page.items.map((i) => i.key.toString()));
    if (!page.more) break;
    after = page.items[page.items.length - 1].key;
  }
  t.deepEqual(seen, keys);
  engine.close();
});

test('errors carry stable codes and nothing is half-applied', async (t) => {
  const engine = Engine.open(tempDir(t));
  await engine.apply([{ op: 'put', key: 'x', value: v('1') }], 5);
  await t.throwsAsync(engine.apply([{ op: 'put', key: 'x', value: v('2') }], 5), { instanceOf: NativeError, code: 'ENGINE_APPLY_ORDER' });
  const bad = Buffer.from([1, 9, 0, 0, 0, 1]);
  await t.throwsAsync(engine.applyPacked(bad, 6), { code: 'ENGINE_INVALID_ARGUMENT' });
  t.is(engine.appliedIndex(), 5);
  await t.throwsAsync(engine.scan({ limit: 0 }), { code: 'ENGINE_INVALID_ARGUMENT' });
  t.throws(() => Engine.open(tempDir(t), { compression: 'brotli' as 'lz4' }), { code: 'ENGINE_INVALID_ARGUMENT' });
  engine.close();
  t.throws(() => engine.get('x'), { code: 'ENGINE_CLOSED' });
});

test('checkpoint and open from it', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(join(dir, 'db'));
  await engine.apply([{ op: 'put', key: 'snap', value: v('shot') }], 7);
  t.is(await engine.checkpoint(join(dir, 'cp')), 7);
  await engine.apply([{ op: 'put', key: 'later', value: v('x') }], 8);
  engine.close();
  const restored = Engine.openFromCheckpoint(join(dir, 'cp'), join(dir, 'restored'));
  t.is(restored.appliedIndex(), 7);
  t.is(restored.get('snap')?.toString(), 'shot');
  t.is(restored.get('later'), undefined);
  restored.close();
});

/** Nice values of this process's threads named `name` (Linux: /proc). */
function threadNices(name: string): number[] {
  return readdirSync('/proc/self/task')
    .filter((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name)
    .map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]));
}

test('compactions run at nice 19, flushes at the normal priority', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread priorities are read from /proc (Linux)');
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  // Five flushed L0 files: past the L0 trigger (4), so a compaction runs on the low pool, whose
  // threads take the lowered priority when they pick up work.
  for (let i = 1; i <= 5; i++) {
    await engine.apply([{ op: 'put', key: `k${i}`, value: Buffer.alloc(1024, i) }], i);
    await engine.flush();
  }
  const deadline = Date.now() + 10_000;
  while (!threadNices('rocksdb:low').includes(19) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.true(threadNices('rocksdb:low').includes(19), `rocksdb:low threads at ${threadNices('rocksdb:low').join(',')}`);
  t.false(threadNices('rocksdb:high').includes(19), `rocksdb:high threads at ${threadNices('rocksdb:high').join(',')}`);
});

test('applySoon writes a small batch on the calling thread and hands a big one to the pool', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const small = engine.applySoon([{ op: 'put', key: 'a', value: Buffer.from('1') }], 1);
  t.is(small, 1, 'written before returning: a number, not a promise');
  t.is(engine.appliedIndex(), 1);
  t.is(engine.get('a')?.toString(), '1');
  const value = Buffer.alloc(APPLY_NOW_BYTES_MAX, 7);
  const big = engine.applySoon([{ op: 'put', key: 'b', value }], 2);
  t.true(big instanceof Promise);
  t.is(await big, 1);
  t.is(engine.appliedIndex(), 2);
  // The order rule holds on both paths.
  t.throws(() => engine.applySoon([{ op: 'put', key: 'c', value: Buffer.from('3') }], 2), { instanceOf: NativeError, message: /does not follow/ });
});
