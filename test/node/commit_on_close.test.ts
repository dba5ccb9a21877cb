/**
 * Commit-index-only changes are not written as they happen (Raft's commit index is volatile; a
 * write carries it anyway): a clean close writes the last one, so a restarted node resumes
 * from everything it had committed; after a crash it re-learns it instead.
 */
import { join } from 'node:path';
import test from 'ava';
import { Op } from '../../ts/node/commands';
import { RaftNode } from '../../ts/node/raft_node';
import { restartablePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

test('a closed node reopens with the commit index it had reached, not the one its last write carried', async (t) => {
  const [port] = await restartablePorts(1);
  let led: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (led = resolve));
  const cfg = { id: 1, dataDir: join(tempDir(t), 'n1'), members: new Map([[1, { host: '127.0.0.1', port }]]), onSoftState: (lead: number) => lead === 1 && led() };
  const node = await RaftNode.open(cfg);
  await node.start();
  await leading;
  // A single voter: each write commits once its own entry is durable, a change no write carries.
  for (let i = 0; i < 20; i++) t.is((await node.propose({ op: Op.Put, key: `k${i}`, value: Buffer.from('1') })).kind, 'put');
  const committed = node.status().commitIndex;
  await node.close();

  const again = await RaftNode.open(cfg);
  t.teardown(() => again.close());
  t.is(again.status().commitIndex, committed);
});
