/**
 * A range delete (`Op.DeleteRange`) deletes the first `limit` user keys of its prefix as the
 * batch being applied has left them: keys in the engine from earlier batches, less those this
 * batch deleted, plus those it put — in key order, at the entry's revision, one change each for
 * the watchers — and never a reserved key.
 */
import test from 'ava';
import { type ApplyResult, Applier } from '../../ts/node/applier';
import { type Command, decodeCommand, encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord, MEMBERS_KEY } from '../../ts/node/membership';
import { Engine } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';
import { changeMatcher } from '../../ts/node/key_match';

function setUp(t: import('ava').ExecutionContext) {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const answers: ApplyResult[] = [];
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), (results) => answers.push(...results.map((r) => r.result)), (err) => t.fail(err.message));
  const seen: string[] = [];
  applier.feed.watch(changeMatcher({ prefix: '' }), undefined, { send: (changes) => (changes.forEach((c) => seen.push(`${c.type} ${c.key}@${c.revision}`)), true), end: () => undefined });
  let index = 0;
  /** Applies `commands` as one batch of entries; resolves once applied. */
  const apply = async (commands: Omit<Command, 'origin' | 'seq'>[]) => {
    applier.push(commands.map((c) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand({ ...c, origin: 1, seq: index }) })));
    await applier.idle();
  };
  const keys = async () => (await engine.scan({ prefix: '', limit: 100 })).items.map((kv) => kv.key.toString()).filter((k) => !k.startsWith('\u0000'));
  return { engine, answers, seen, apply, keys };
}

const put = (key: string): Omit<Command, 'origin' | 'seq'> => ({ op: Op.Put, key, value: Buffer.from('1') });

test('a range delete sees the writes of its own batch: puts count, deletes do not, in key order', async (t) => {
  const { answers, seen, apply, keys } = setUp(t);
  await apply([put('p/b'), put('p/d'), put('p/f'), put('q/a')]); // 1..4, written to the engine
  await apply([
    put('p/a'), // 5: only in this batch's overlay
    { op: Op.Delete, key: 'p/b' }, // 6: deleted in this batch
    put('p/c'), // 7
    { op: Op.DeleteRange, key: 'p/', limit: 3 }, // 8: p/a, p/c, p/d (not p/b, gone; p/f is fourth)
  ]);
  t.deepEqual(answers.at(-1), { kind: 'range', deleted: 3, more: true, revision: 8 });
  t.deepEqual(seen.slice(-3), ['delete p/a@8', 'delete p/c@8', 'delete p/d@8']);
  t.deepEqual(await keys(), ['p/f', 'q/a']);
  await apply([{ op: Op.DeleteRange, key: 'p/', limit: 3 }]); // 9
  t.deepEqual(answers.at(-1), { kind: 'range', deleted: 1, more: false, revision: 9 });
  await apply([{ op: Op.DeleteRange, key: 'p/', limit: 3 }]); // 10: nothing left
  t.deepEqual(answers.at(-1), { kind: 'range', deleted: 0, more: false, revision: 10 });
  t.deepEqual(await keys(), ['q/a']);
});

test('an empty prefix deletes every user key and no reserved one; a later entry of the batch sees them gone', async (t) => {
  const { engine, answers, apply, keys } = setUp(t);
  await apply([put('a'), put('b'), { op: Op.Publish, key: '1 127.0.0.1:7001' }]);
  const members = engine.get(MEMBERS_KEY);
  t.truthy(members);
  await apply([{ op: Op.DeleteRange, key: '', limit: 10 }, { op: Op.Put, key: 'a', value: Buffer.from('2'), ifRevision: 0 }]);
  t.deepEqual(answers.slice(-2), [
    { kind: 'range', deleted: 2, more: false, revision: 4 },
    { kind: 'put', revision: 5 },
  ]);
  t.deepEqual(await keys(), ['a']);
  t.deepEqual(engine.get(MEMBERS_KEY), members, 'the membership record is untouched');
});

test('a range delete round-trips through its encoding; a limit of 0 or an older version is refused', (t) => {
  const c: Command = { op: Op.DeleteRange, origin: 7, seq: 9, key: 'orders/', limit: 10_000, idem: 'k1', atMs: 1234 };
  t.deepEqual(decodeCommand(encodeCommand(c)), c);
  t.throws(() => decodeCommand(encodeCommand({ ...c, limit: 0 })), { code: 'COMMAND_INVALID' } as never);
  const old = encodeCommand(c);
  old[0] = 2;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 2 range delete/ } as never);
});
