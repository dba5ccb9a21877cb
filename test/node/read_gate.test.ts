/**
 * Reads through the applier never see a batch before it is published: a transaction is seen
 * whole or not at all, and nothing read is newer than what a later read answers — whether the
 * batch is written on the calling thread or on the pool.
 */
import test, { type ExecutionContext } from 'ava';
import { Applier } from '../../ts/node/applier';
import { encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { APPLY_NOW_BYTES_MAX, Engine } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';

function setup(t: ExecutionContext) {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  let index = 0;
  /** Pushes a txn writing `a` = i and the fresh key `b<i>` = i (and `pad`, `padBytes` long). */
  const txn = (i: number, padBytes: number) => {
    const put = (key: string, value: Buffer) => ({ kind: 'put' as const, key, value });
    const success = [put('a', Buffer.from(String(i))), put(`b${i}`, Buffer.from(String(i))), ...(padBytes > 0 ? [put('pad', Buffer.alloc(padBytes, 0x31))] : [])];
    applier.push([{ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand({ op: Op.Txn, origin: 1, seq: index, key: '', txn: { compare: [], success, failure: [] } }) }]);
  };
  /** `a` and `b<i>` as strings (undefined: absent), and whether the read had to wait. */
  const read = async (i: number) => {
    const items = applier.readItems(['a', `b${i}`], 'positional');
    const waited = !Array.isArray(items);
    const [a, b] = (waited ? await items : items).map((v) => (v === undefined ? undefined : String((JSON.parse(v.toString()) as { value: unknown }).value)));
    return { a, b, waited };
  };
  return { applier, txn, read };
}

test('a batch written on the calling thread: reads queued around its write see all of a txn or none', async (t) => {
  const { applier, txn, read } = setup(t);
  txn(0, 0);
  await applier.idle();
  t.is((await read(0)).a, '0', 'a is cached from here on; each b<i> is read first from the engine');
  for (let i = 1; i <= 20; i++) {
    txn(i, 0);
    // Reads at each microtask step, the first ones before the batch is written, later ones after.
    const seen = [];
    for (let step = 0; step < 6; step++) {
      await Promise.resolve();
      seen.push(await read(i));
    }
    await applier.idle();
    for (const s of seen) t.is(s.a === String(i), s.b === String(i), `txn ${i}: a=${s.a}, b${i}=${s.b}`);
    t.deepEqual(await read(i), { a: String(i), b: String(i), waited: false });
  }
});

test('a batch written on the pool: reads wait for it to be published, scans too, and nothing goes back in time', async (t) => {
  const { applier, txn, read } = setup(t);
  txn(0, 0);
  await applier.idle();
  await read(0);
  let waited = 0;
  for (let i = 1; i <= 10; i++) {
    txn(i, APPLY_NOW_BYTES_MAX + 1024);
    await new Promise(setImmediate); // the batch is on the pool now (or already published)
    const during = await read(i);
    if (during.waited) waited++;
    t.is(during.a === String(i), during.b === String(i), `txn ${i}: a=${during.a}, b${i}=${during.b}`);
    txn(i + 1000, APPLY_NOW_BYTES_MAX + 1024);
    await new Promise(setImmediate);
    // A scan started while the next batch may be in flight answers a published state: a read after it is never older.
    const page = await applier.scan({ prefix: 'b', limit: 10_000 });
    const scanned = new Set(page.items.map((kv) => kv.key.toString()));
    const after = await read(i + 1000);
    t.is(scanned.has(`b${i + 1000}`), after.a === String(i + 1000), `scan saw b${i + 1000}: ${scanned.has(`b${i + 1000}`)}, a=${after.a}`);
    await applier.idle();
  }
  t.true(waited > 0, 'some reads met a batch in flight on the pool');
});
