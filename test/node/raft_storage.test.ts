import test, { type ExecutionContext } from 'ava';
import { Wal } from '../../ts/native';
import { WalStorage } from '../../ts/node/raft_storage';
import { type Entry, EntryType, RawNode, type Snapshot, StateType, mulberry32 } from '../../ts/raft';
import { tempDir } from '../helpers/tmp';
import { coreOf } from '../helpers/core';

const initial = (voters: number[]): Snapshot => ({ metadata: { index: 0, term: 0, confState: { voters, learners: [] } }, data: new Uint8Array() });

async function open(t: ExecutionContext, dir: string, snap: Snapshot = initial([1])): Promise<[Wal, WalStorage]> {
  const wal = Wal.open(dir);
  t.teardown(() => wal.close());
  return [wal, await WalStorage.open(wal, snap)];
}

const entry = (index: number, term: number, text: string, type = EntryType.Normal): Entry => ({ index, term, type, data: Buffer.from(text) });
const texts = (es: Entry[]) => es.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()]);

/** Drives a single-node RawNode over WalStorage until it is quiet. */
async function settle(node: RawNode, storage: WalStorage): Promise<Entry[]> {
  const applied: Entry[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    await storage.persist(rd.entries, rd.hardState);
    applied.push(...rd.committedEntries);
    node.advance(rd);
  }
  return applied;
}

test('a node persists through the WAL and restarts with its term, vote, commit and log', async (t) => {
  const dir = tempDir(t);
  const [wal, storage] = await open(t, dir);
  const node = new RawNode({ id: 1, storage, random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  node.campaign();
  await settle(node, storage);
  t.is(coreOf(node).state, StateType.Leader);
  node.propose([Buffer.from('a'), Buffer.from('b')]);
  const applied = await settle(node, storage);
  t.deepEqual(applied.map((e) => Buffer.from(e.data).toString()), ['a', 'b']);
  const before = node.status();
  wal.close();

  const [, again] = await open(t, dir);
  const restarted = new RawNode({ id: 1, storage: again, random: mulberry32(2), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  const after = restarted.status();
  t.deepEqual([after.term, after.vote, after.commit, after.lastIndex], [before.term, before.vote, before.commit, before.lastIndex]);
  t.deepEqual(texts(again.entries(1, again.lastIndex() + 1, 1 << 20)), texts(storage.entries(1, storage.lastIndex() + 1, 1 << 20)));
});

test('a conflicting suffix is replaced on disk and in the mirror; entry types survive', async (t) => {
  const dir = tempDir(t);
  const [wal, storage] = await open(t, dir);
  await storage.persist([1, 2, 3, 4, 5].map((i) => entry(i, 1, `t1-${i}`)), { term: 1, vote: 1, commit: 2 });
  await storage.persist([entry(3, 2, 'cc', EntryType.ConfChange), entry(4, 2, 't2-4')], { term: 2, vote: 0, commit: 2 });
  const expected = [[1, 1, 0, 't1-1'], [2, 1, 0, 't1-2'], [3, 2, EntryType.ConfChange, 'cc'], [4, 2, 0, 't2-4']];
  t.deepEqual(texts(storage.entries(1, 5, 1 << 20)), expected);
  t.is(storage.lastIndex(), 4);
  wal.close();
  const [, again] = await open(t, dir);
  t.deepEqual(texts(again.entries(1, 5, 1 << 20)), expected);
  t.deepEqual(again.initialState().hardState, { term: 2, vote: 0, commit: 2 });
});

test('compaction and snapshot install: the core sees compacted and snapshot boundaries', async (t) => {
  const [, storage] = await open(t, tempDir(t), initial([1, 2, 3]));
  await storage.persist([1, 2, 3, 4, 5].map((i) => entry(i, 1, `e${i}`)), undefined);
  await storage.compact({ metadata: { index: 3, term: 1, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('image') });
  t.is(storage.firstIndex(), 4);
  t.is(storage.term(3), 1);
  t.throws(() => storage.entries(3, 5, 1 << 20), { message: /below the compacted index 3/ });
  t.deepEqual(texts(storage.entries(4, 6, 1 << 20)), [[4, 1, 0, 'e4'], [5, 1, 0, 'e5']]);

  // A later snapshot that keeps a tail of 2 entries for followers slightly behind.
  await storage.persist([6, 7, 8].map((i) => entry(i, 2, `e${i}`)), undefined);
  await storage.compact({ metadata: { index: 8, term: 2, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('8') }, 2);
  t.is(storage.snapshot().metadata.index, 8);
  t.is(storage.firstIndex(), 7, 'entries 7 and 8 are kept');
  t.is(storage.term(6), 2, 'the entry before the first kept one still has its term');
  t.deepEqual(texts(storage.entries(7, 9, 1 << 20)), [[7, 2, 0, 'e7'], [8, 2, 0, 'e8']]);
  t.throws(() => storage.term(5), { message: /below the compacted index 6/ });

  await storage.installSnapshot({ metadata: { index: 100, term: 7, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('leader image') });
  t.is(storage.firstIndex(), 101);
  t.is(storage.lastIndex(), 100);
  t.is(storage.term(100), 7);
  await storage.persist([entry(101, 7, 'next')], undefined);
  t.deepEqual(texts(storage.entries(101, 102, 1 << 20)), [[101, 7, 0, 'next']]);
});

test('the tail a compaction keeps is bounded by entries and by bytes', async (t) => {
  const [, storage] = await open(t, tempDir(t), initial([1, 2, 3]));
  // Entries 1-6 of 10, 10, 10, 1000, 10, 10 bytes.
  await storage.persist([1, 2, 3, 4, 5, 6].map((i) => entry(i, 1, (i === 4 ? 'x' : 'y').repeat(i === 4 ? 1000 : 10))), undefined);
  t.is(storage.tailEntries(6, 3, 1 << 20), 3, 'by count');
  t.is(storage.tailEntries(6, 10, 1 << 20), 6, 'all there is');
  t.is(storage.tailEntries(6, 10, 25), 2, 'by bytes: 20 of 25 fit, the next would pass it');
  t.is(storage.tailEntries(6, 10, 1019), 2, 'the large entry does not fit');
  t.is(storage.tailEntries(6, 10, 1020), 3);
  t.is(storage.tailEntries(4, 10, 999), 0, 'an entry over the bound alone: none');
  await storage.compact({ metadata: { index: 3, term: 1, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('3') });
  t.is(storage.tailEntries(6, 10, 1 << 20), 3, 'only entries still in the log');
});

test('one persist larger than a WAL group (a follower catching up) is split into groups, all durable', async (t) => {
  const dir = tempDir(t);
  const [wal, storage] = await open(t, dir, initial([1, 2, 3]));
  const big = 'x'.repeat(1 << 20);
  const entries = Array.from({ length: 24 }, (_, i) => entry(i + 1, 1, `${i}:${big}`));
  await storage.persist(entries, { term: 1, vote: 1, commit: 24 });
  t.is(storage.lastIndex(), 24);
  t.deepEqual(wal.hardState(), { term: 1, vote: 1, commit: 24 });
  t.true(wal.stats().syncs >= 2, 'more than one group');
  wal.close();
  const [, again] = await open(t, dir, initial([1, 2, 3]));
  t.is(again.lastIndex(), 24);
  t.is(Buffer.from(again.entries(24, 25, 1 << 30)[0].data).toString().slice(0, 3), '23:');
});

test('a crash right after a snapshot install (before the next append) restarts with commit at the snapshot, and the core accepts it', async (t) => {
  const dir = tempDir(t);
  const conf = { voters: [1, 2, 3], learners: [] };
  const [wal, storage] = await open(t, dir, initial([1, 2, 3]));
  await storage.persist([1, 2, 3].map((i) => entry(i, 1, `e${i}`)), { term: 1, vote: 2, commit: 3 });
  const snap: Snapshot = { metadata: { index: 601, term: 4, confState: conf }, data: Buffer.from('601') };
  await storage.installSnapshot(snap);
  // The crash: the install reset the WAL, but no append wrote the new commit into the hard state.
  t.is(wal.hardState().commit, 3);
  wal.close();

  const [, again] = await open(t, dir, snap);
  t.is(again.initialState().hardState.commit, 601, 'everything up to the installed snapshot is committed');
  const node = new RawNode({ id: 1, storage: again, random: mulberry32(3), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1, applied: 601 });
  t.deepEqual([node.status().commit, node.status().lastIndex], [601, 601]);
});
