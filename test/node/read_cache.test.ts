/**
 * The read cache (in the addon, beside the engine), through the applier: coherent with the
 * applied state — a key read after each batch answers exactly what the engine holds, in both
 * answer shapes, and the multi-get answer in one call agrees with the items read key by key.
 * (Its limits and eviction are the addon's own tests: crates/engine/tests/read_cache.rs.)
 */
import test from 'ava';
import { Applier } from '../../ts/node/applier';
import { decodeStored, encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { Engine, type ItemShape } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';

/** A read answered at once (no pooled write in flight). */
function now<T>(read: T[] | Promise<T[]>): T[] {
  if (!Array.isArray(read)) throw new Error('the read waits for a pooled write');
  return read;
}

test('reads through the applier see every applied batch (puts, deletes, txn writes), in both shapes', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  let index = 0;
  const apply = async (...commands: Parameters<typeof encodeCommand>[0][]) => {
    applier.push(commands.map((c) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand(c) })));
    await applier.idle();
  };
  // What the engine holds, rendered as each shape answers it.
  const fromEngine = (key: string, shape: ItemShape) => {
    const stored = engine.get(key);
    if (!stored) return undefined;
    const { revision, value } = decodeStored(stored);
    return { ...(shape === 'keyed' ? { key } : {}), value: JSON.parse(value.toString()), revision };
  };
  const read = (keys: string[], shape: ItemShape) => now(applier.readItems(keys, shape)).map((item) => (item === undefined ? undefined : JSON.parse(item.toString())));
  const agree = (keys: string[], compact = true) => {
    for (const shape of ['keyed', 'positional', 'keyed'] as const) {
      t.deepEqual(read(keys, shape), keys.map((k) => fromEngine(k, shape)), `${shape}: read through the cache`);
      if (!compact) continue; // (escaped keys: the API's general path, readItems)
      const answer = applier.multiGetAnswer(Buffer.from(JSON.stringify({ keys })), shape);
      const items = keys.map((k) => fromEngine(k, shape)).filter((it) => shape === 'positional' || it !== undefined);
      t.deepEqual(JSON.parse(answer!.toString()), { items: items.map((it) => it ?? null) }, `${shape}: the multi-get answer`);
    }
    const columns = { values: keys.map((k) => fromEngine(k, 'positional')?.value ?? null), revisions: keys.map((k) => fromEngine(k, 'positional')?.revision ?? null) };
    const general = applier.answerItems(keys, 'columns');
    if (!Buffer.isBuffer(general)) throw new Error('the read waits for a pooled write');
    t.deepEqual(JSON.parse(general.toString()), columns, 'columns: the general path');
    if (compact) t.deepEqual(JSON.parse(applier.multiGetAnswer(Buffer.from(JSON.stringify({ keys })), 'columns')!.toString()), columns, 'columns: the multi-get answer');
  };
  await apply({ op: Op.Put, origin: 1, seq: 1, key: 'a', value: Buffer.from('1') });
  t.deepEqual(read(['a'], 'keyed'), [{ key: 'a', value: 1, revision: 1 }]);
  await apply({ op: Op.Put, origin: 1, seq: 2, key: 'a', value: Buffer.from('"two"') }, { op: Op.Put, origin: 1, seq: 3, key: 'b', value: Buffer.from('[3]') });
  t.deepEqual(read(['a'], 'positional'), [{ value: 'two', revision: 2 }]);
  agree(['a', 'b', 'zz', 'a']);
  await apply({ op: Op.Delete, origin: 1, seq: 4, key: 'a' });
  t.deepEqual(read(['a'], 'keyed'), [undefined]);
  await apply({ op: Op.Txn, origin: 1, seq: 5, key: '', txn: { compare: [], success: [{ kind: 'put', key: 'b', value: Buffer.from('4') }, { kind: 'put', key: 'a', value: Buffer.from('{"k":"é\\n"}') }], failure: [] } });
  agree(['a', 'b']);
  await apply({ op: Op.Put, origin: 1, seq: 6, key: 'quo"te', value: Buffer.from('6') }, { op: Op.Put, origin: 1, seq: 7, key: 'tab\there', value: Buffer.from('7') });
  agree(['quo"te', 'tab\there', 'b'], false);
  t.deepEqual(read(['tab\there'], 'keyed'), [{ key: 'tab\there', value: 7, revision: 7 }], 'keys escaped as JSON.stringify escapes them');
});

test('multi-get bodies the addon does not answer are left to the general path', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  for (const body of ['{"keys": ["a"]}', '{"keys":["a\\"b"]}', '{"keys":[""]}', `{"keys":["${'k'.repeat(4097)}"]}`, '{"keys":["a"],"x":1}', '[]']) {
    t.is(applier.multiGetAnswer(Buffer.from(body), 'keyed'), undefined, body.slice(0, 40));
  }
  t.deepEqual(JSON.parse(applier.multiGetAnswer(Buffer.from(`{"keys":["${'k'.repeat(4096)}"]}`), 'positional')!.toString()), { items: [null] });
});

test('items bigger than the reused answer buffer come back whole, and earlier answers are not overwritten by later reads', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  const big = JSON.stringify('x'.repeat(200_000)); // past the 64 KiB the addon writes into
  applier.push([
    { index: 1, term: 1, type: EntryType.Normal, data: encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'big', value: Buffer.from(big) }) },
    { index: 2, term: 1, type: EntryType.Normal, data: encodeCommand({ op: Op.Put, origin: 1, seq: 2, key: 'small', value: Buffer.from('1') }) },
    { index: 3, term: 1, type: EntryType.Normal, data: encodeCommand({ op: Op.Put, origin: 1, seq: 3, key: 'other', value: Buffer.from('"zzzz"') }) },
  ]);
  await applier.idle();
  const read = (keys: string[]) => {
    const items = applier.readItems(keys, 'positional');
    if (!Array.isArray(items)) throw new Error('the read waits for a pooled write');
    return items;
  };
  const first = read(['small']);
  const [bigItem, smallItem] = read(['big', 'small']);
  t.deepEqual(JSON.parse(bigItem!.toString()), { value: 'x'.repeat(200_000), revision: 1 });
  t.deepEqual(JSON.parse(smallItem!.toString()), { value: 1, revision: 2 });
  t.deepEqual(JSON.parse(read(['other'])[0]!.toString()), { value: 'zzzz', revision: 3 });
  t.deepEqual(JSON.parse(first[0]!.toString()), { value: 1, revision: 2 }, 'an answer is a copy, not a view of the reused buffer');
});
