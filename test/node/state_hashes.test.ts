/**
 * The applier digests the state exactly as of each hash entry, whatever entries were handed to
 * it together (nodes batch the same entries differently): a hash handed over among writes gives
 * the digest of an engine that applied the entries through it and nothing after.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Applier } from '../../ts/node/applier';
import { type Command, encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { Engine } from '../../ts/native';
import { type Entry, EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';

const v = (s: string) => Buffer.from(s);
const COMMANDS: Omit<Command, 'origin' | 'seq'>[] = [
  { op: Op.Put, key: 'a', value: v('1') }, // 1
  { op: Op.Put, key: 'b', value: v('2') }, // 2
  { op: Op.Hash, key: '' }, // 3
  { op: Op.Put, key: 'a', value: v('3') }, // 4
  { op: Op.Delete, key: 'b' }, // 5
  { op: Op.Hash, key: '' }, // 6
  { op: Op.Put, key: 'c', value: v('4') }, // 7
];
const ENTRIES: Entry[] = COMMANDS.map((c, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: encodeCommand({ ...c, origin: 1, seq: i + 1 }) }));

async function applied(t: ExecutionContext, pushes: Entry[][]): Promise<{ applier: Applier; engine: Engine }> {
  const engine = Engine.open(join(tempDir(t), 'engine'));
  t.teardown(() => engine.close());
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message));
  await applier.loadState();
  for (const entries of pushes) applier.push(entries);
  await applier.idle();
  return { applier, engine };
}

test('a hash handed over among writes is the digest of the state through its entry and no further', async (t) => {
  // All at once: entries 4-7 are in the same hand-over as the hash at 3.
  const { applier } = await applied(t, [ENTRIES]);
  const through3 = await (await applied(t, [ENTRIES.slice(0, 3)])).engine.stateDigest();
  const through6 = await (await applied(t, [ENTRIES.slice(0, 6)])).engine.stateDigest();
  t.deepEqual(through3.index, 3);
  t.is(await applier.hashes.at(3), through3.sha256);
  t.is(await applier.hashes.at(6), through6.sha256);
  t.not(through3.sha256, through6.sha256);
  t.is(applier.hashes.at(7), undefined, 'not a hash entry');
  // Handed over one by one: the same digests.
  const oneByOne = (await applied(t, ENTRIES.map((e) => [e]))).applier;
  t.is(await oneByOne.hashes.at(3), through3.sha256);
  t.is(await oneByOne.hashes.at(6), through6.sha256);
});
