/**
 * Snapshot install is bracketed by a marker so a crash at any point restarts into the old state
 * or the new one: a snapshot received but not yet being installed is ignored at restart, an
 * install interrupted half way (engine directory already gone) is finished at restart. A log
 * that does not start after a snapshot (or the bootstrap one) is refused rather than misread.
 */
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Engine, Wal } from '../../ts/native';
import { decodeStored, encodeStored } from '../../ts/node/commands';
import { BOOTSTRAP_INDEX, RaftNode } from '../../ts/node/raft_node';
import { SnapshotStore } from '../../ts/node/snapshots';
import { tempDir } from '../helpers/tmp';

const members = new Map([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 0 }]));

async function leaderSnapshot(dir: string): Promise<SnapshotStore> {
  mkdirSync(dir, { recursive: true });
  const engine = Engine.open(join(dir, 'engine'));
  await engine.apply([{ op: 'put', key: 'k', value: encodeStored(10, Buffer.from('"v10"')) }], 10);
  const store = new SnapshotStore(dir);
  const meta = await store.create(engine, () => 2, () => ({ voters: [1, 2, 3], learners: [] }));
  engine.close();
  if (meta.index !== 10) throw new Error(`snapshot at ${meta.index}`);
  return store;
}

async function statusAfterOpen(dataDir: string) {
  const node = await RaftNode.open({ id: 2, dataDir, members });
  const st = node.status();
  const stored = node.engine.get('k');
  await node.close();
  return { applied: st.appliedIndex, snapshotIndex: st.snapshotIndex, firstLogIndex: st.firstLogIndex, value: stored ? decodeStored(stored).value.toString() : undefined };
}

test('a received snapshot never installed (crash before the marker) leaves the old state', async (t) => {
  const dir = tempDir(t);
  const leader = await leaderSnapshot(join(dir, 'leader'));
  const follower = join(dir, 'follower');
  await (await RaftNode.open({ id: 2, dataDir: follower, members })).close();
  cpSync(leader.path(10), join(follower, 'snap', '10'), { recursive: true });

  // The old state: a freshly bootstrapped node, whose log starts after the bootstrap snapshot.
  t.deepEqual(await statusAfterOpen(follower), { applied: 0, snapshotIndex: BOOTSTRAP_INDEX, firstLogIndex: BOOTSTRAP_INDEX + 1, value: undefined });
  t.false(existsSync(join(follower, 'snap', '10')), 'the stray snapshot is removed');
});

test('an install interrupted after the engine was removed is finished at restart', async (t) => {
  const dir = tempDir(t);
  const leader = await leaderSnapshot(join(dir, 'leader'));
  const follower = join(dir, 'follower');
  await (await RaftNode.open({ id: 2, dataDir: follower, members })).close();
  cpSync(leader.path(10), join(follower, 'snap', '10'), { recursive: true });
  new SnapshotStore(follower).beginInstall(10);
  rmSync(join(follower, 'engine'), { recursive: true, force: true });

  t.deepEqual(await statusAfterOpen(follower), { applied: 10, snapshotIndex: 10, firstLogIndex: 11, value: '"v10"' });
  t.is(new SnapshotStore(follower).pendingInstall(), undefined, 'the marker is gone once finished');
  // And again: a restart after a finished install starts from the snapshot.
  t.deepEqual(await statusAfterOpen(follower), { applied: 10, snapshotIndex: 10, firstLogIndex: 11, value: '"v10"' });
});

test('a data directory whose log starts at index 1 without a snapshot (an older layout) is refused, not misread', async (t) => {
  const dataDir = tempDir(t);
  mkdirSync(dataDir, { recursive: true });
  const wal = Wal.open(join(dataDir, 'wal'));
  await wal.append([{ index: 1, term: 3, data: Buffer.from([0]) }], { term: 3, vote: 1, commit: 1 });
  wal.close();
  const err = await t.throwsAsync(RaftNode.open({ id: 2, dataDir, members }));
  t.is((err as Error & { code?: string }).code, 'DATA_LAYOUT_UNSUPPORTED');
  // Nothing was changed: the log is still there as written.
  const again = Wal.open(join(dataDir, 'wal'));
  t.deepEqual([again.firstIndex(), again.lastIndex(), again.hardState().term], [1, 1, 3]);
  again.close();
});
