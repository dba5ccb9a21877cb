/**
 * A snapshot is taken once the entries applied since the last one reach `snapshotEntries` —
 * or `snapshotLogBytes` bytes, whichever comes first (a few large values must not let the log
 * grow unbounded in bytes while staying under the entry count).
 */
import test from 'ava';
import { encodeCommand, Op } from '../../ts/node/commands';
import { RaftNode } from '../../ts/node/raft_node';
import { StateType } from '../../ts/raft';
import { tempDir } from '../helpers/tmp';

async function singleNode(t: import('ava').ExecutionContext, cfg: { snapshotEntries: number; snapshotLogBytes: number }) {
  const created: number[] = [];
  let onCreated: (index: number) => void = () => undefined;
  const firstSnapshot = new Promise<number>((resolve) => (onCreated = resolve));
  let onLeader: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (onLeader = resolve));
  const node = await RaftNode.open({
    id: 1,
    dataDir: tempDir(t),
    members: new Map([[1, { host: '127.0.0.1', port: 0 }]]),
    ...cfg,
    onSoftState: (_lead, state) => {
      if (state === StateType.Leader) onLeader();
    },
    onSnapshot: (event, index) => {
      if (event !== 'created') return;
      created.push(index);
      onCreated(index);
    },
  });
  t.teardown(() => node.close());
  await node.start();
  await leading;
  return { node, created, firstSnapshot };
}

const value = (bytes: number) => Buffer.from(JSON.stringify('x'.repeat(bytes - 2)));

test('the log bytes since the last snapshot trigger one before the entry count does', async (t) => {
  const { node, firstSnapshot } = await singleNode(t, { snapshotEntries: 1_000_000, snapshotLogBytes: 64 << 10 });
  // 40 writes of 4 KiB: 160 KiB of entries, far below a million entries.
  const revisions: number[] = [];
  for (let i = 0; i < 40; i++) {
    const r = await node.propose({ op: Op.Put, key: `k${String(i).padStart(2, '0')}`, value: value(4096) });
    revisions.push(r.kind === 'put' ? r.revision : -1);
  }
  const index = await firstSnapshot;
  // Due once the applied entries reach 64 KiB: at the write that crosses it. The checkpoint is
  // cut in the background after a flush that lets writes go on (crates/engine), so later writes
  // may have been applied by then (how many depends on the machine's load): never an earlier one.
  const entryBytes = encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'k00', value: value(4096) }).length;
  const crossing = Math.ceil((64 << 10) / entryBytes) - 1;
  t.true(crossing < 30, 'the crossing write is well before the last');
  t.true(index >= revisions[crossing] && index <= revisions.at(-1)!, `first snapshot at ${index}, the write crossing 64 KiB is at ${revisions[crossing]}`);
  t.true(node.status().snapshotIndex >= index);
});

test('small entries below both limits take no snapshot; the entry count alone takes one', async (t) => {
  const { node, created, firstSnapshot } = await singleNode(t, { snapshotEntries: 30, snapshotLogBytes: 64 << 20 });
  for (let i = 0; i < 20; i++) await node.propose({ op: Op.Put, key: `k${i}`, value: value(10) });
  t.deepEqual(created, [], 'fewer than 30 entries and a few hundred bytes: no snapshot yet');
  let last = 0;
  for (let i = 20; i < 40; i++) {
    const r = await node.propose({ op: Op.Put, key: `k${i}`, value: value(10) });
    last = r.kind === 'put' ? r.revision : -1;
  }
  const index = await firstSnapshot;
  // Due once 30 entries were applied after the bootstrap snapshot at index 1 (at index 31);
  // the background checkpoint may see later writes applied, never fewer.
  t.true(index >= 31 && index <= last, `first snapshot at ${index}, the last write at ${last}`);
});
