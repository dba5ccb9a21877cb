/**
 * `--wal-backend`: the node opens its WAL with the path asked for (pwrite + fdatasync unless
 * told otherwise), and writes through either path survive a reopen.
 */
import { join } from 'node:path';
import test from 'ava';
import { Wal } from '../../ts/native';
import { decodeStored, Op } from '../../ts/node/commands';
import { RaftNode } from '../../ts/node/raft_node';
import type { RaftNodeConfig } from '../../ts/node/config';
import { restartablePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

/** Whether this kernel lets a process use io_uring (Docker's seccomp profile, for one, does not). */
function uringAllowed(dir: string): boolean {
  const probe = Wal.open(dir, { backend: 'auto' });
  try {
    return probe.info().backend === 'io_uring';
  } finally {
    probe.close();
  }
}

async function leadingNode(cfg: RaftNodeConfig): Promise<RaftNode> {
  let led: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (led = resolve));
  const node = await RaftNode.open({ ...cfg, onSoftState: (lead: number) => lead === cfg.id && led() });
  await node.start();
  await leading;
  return node;
}

test('a node writes its WAL with pwrite by default, and with io_uring when asked', async (t) => {
  const root = tempDir(t);
  const [port] = await restartablePorts(1);
  const members = new Map([[1, { host: '127.0.0.1', port }]]);
  const plain = { id: 1, dataDir: join(root, 'default'), members };
  const node = await leadingNode(plain);
  t.is(node.walBackend.backend, 'pwrite');
  t.is((await node.propose({ op: Op.Put, key: 'k', value: Buffer.from('"a"') })).kind, 'put');
  await node.close();

  if (!uringAllowed(join(root, 'probe'))) {
    t.log('io_uring is not allowed here: only the default path was checked');
    return;
  }
  // The same log reopened through io_uring: what pwrite wrote is there, and new writes land.
  const uring = await leadingNode({ ...plain, walBackend: 'io_uring' });
  t.teardown(() => uring.close());
  t.is(uring.walBackend.backend, 'io_uring');
  t.is((await uring.propose({ op: Op.Put, key: 'k2', value: Buffer.from('"b"') })).kind, 'put');
  t.deepEqual(['k', 'k2'].map((key) => decodeStored(uring.engine.get(key)!).value.toString()), ['"a"', '"b"']);
});
