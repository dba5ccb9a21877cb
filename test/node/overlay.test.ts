/**
 * Entries applied in one batch see each other's writes (the overlay), and the watchers get
 * every change in apply order: a conditional write after a put of the same key, a delete, a
 * txn comparing and reading a key written earlier in the batch, and a batch item after it.
 */
import test from 'ava';
import { type ApplyResult, Applier } from '../../ts/node/applier';
import { type Command, encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { Overlay } from '../../ts/node/overlay';
import { Engine } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';
import { changeMatcher } from '../../ts/node/key_match';

test('the overlay answers the last write of a key, and undefined for keys not written', (t) => {
  const o = new Overlay();
  t.is(o.get('a'), undefined);
  o.put('a', 1, Buffer.from('1'));
  o.put('b', 2, Buffer.from('2'));
  t.deepEqual(o.get('a'), { revision: 1, value: Buffer.from('1') });
  o.delete('a');
  t.is(o.get('a'), null);
  o.put('a', 4, Buffer.from('4'));
  t.deepEqual(o.get('a'), { revision: 4, value: Buffer.from('4') });
  t.deepEqual(o.get('b'), { revision: 2, value: Buffer.from('2') });
  t.is(o.get('c'), undefined);
});

test('entries of one applied batch read the writes of the entries before them', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const answers: ApplyResult[] = [];
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), (results) => answers.push(...results.map((r) => r.result)), (err) => t.fail(err.message));
  const seen: string[] = [];
  applier.feed.watch(changeMatcher({ prefix: '' }), undefined, { send: (changes) => (changes.forEach((c) => seen.push(`${c.type} ${c.key}@${c.revision}${c.value ? `=${c.value}` : ''}`)), true), end: () => undefined });
  const v = (s: string) => Buffer.from(s);
  const commands: Omit<Command, 'origin' | 'seq'>[] = [
    { op: Op.Put, key: 'a', value: v('1') }, // 1
    { op: Op.Put, key: 'a', value: v('2'), ifRevision: 1 }, // 2: sees a@1
    { op: Op.Put, key: 'a', value: v('3'), ifRevision: 1 }, // 3: a is at 2 now: mismatch
    { op: Op.Delete, key: 'a' }, // 4: deletes what entry 2 wrote
    { op: Op.Put, key: 'b', value: v('5'), ifRevision: 0 }, // 5: absent: applies
    { op: Op.Txn, key: '', txn: { compare: [{ key: 'b', revision: 5 }, { key: 'a', exists: false }], success: [{ kind: 'get', key: 'b' }, { kind: 'put', key: 'a', value: v('6') }], failure: [] } }, // 6
    { op: Op.Batch, key: '', items: [{ op: Op.Delete, key: 'a', ifRevision: 6 }, { op: Op.Put, key: 'c', value: v('7'), ifRevision: 0 }] }, // 7
  ];
  applier.push(commands.map((c, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: encodeCommand({ ...c, origin: 1, seq: i + 1 }) })));
  await applier.idle();
  t.deepEqual(answers.slice(0, 5), [
    { kind: 'put', revision: 1 },
    { kind: 'put', revision: 2 },
    { kind: 'mismatch', currentRevision: 2 },
    { kind: 'delete', deleted: true, revision: 4 },
    { kind: 'put', revision: 5 },
  ]);
  t.like(answers[5], { kind: 'txn', succeeded: true, revision: 6, results: [{ op: 'get', key: 'b', found: true, revision: 5 }, { op: 'put', key: 'a', revision: 6 }] });
  t.deepEqual(answers[6], { kind: 'batch', results: [{ kind: 'delete', deleted: true, revision: 7 }, { kind: 'put', revision: 7 }] });
  t.deepEqual(seen, ['put a@1=1', 'put a@2=2', 'delete a@4', 'put b@5=5', 'put a@6=6', 'delete a@7', 'put c@7=7']);
  t.is(engine.get('a'), undefined);
  t.is(engine.get('c')?.subarray(8).toString(), '7');
});
