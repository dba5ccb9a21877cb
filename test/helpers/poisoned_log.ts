/**
 * A one-node data directory whose log ends with a committed entry the applier cannot apply
 * (garbage bytes, or a command of a future format version): the node must stop through its one
 * fatal path when it replays it.
 */
import { join } from 'node:path';
import { encodeCommand, Op } from '../../ts/node/commands';
import { RaftNode } from '../../ts/node/raft_node';
import { toWalEntry } from '../../ts/node/raft_storage';
import { Wal } from '../../ts/native';
import { EntryType, StateType } from '../../ts/raft/types';
import type { PeerAddress } from '../../ts/transport/peer';

export type Poison = 'garbage' | 'future-version';

export function poisonBytes(kind: Poison): Buffer {
  if (kind === 'garbage') return Buffer.from([0x01, 0xff, 0xfe, 0x00, 0x13]);
  const future = encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'k', value: Buffer.from('1') });
  future[0] = 200;
  return future;
}

/** Runs a node once at `dataDir` (a write, so the log has a term), then appends `poison` as committed. */
export async function poisonedDataDir(dataDir: string, peer: PeerAddress, poison: Poison): Promise<void> {
  let onLeading: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (onLeading = resolve));
  const node = await RaftNode.open({ id: 1, dataDir, members: new Map([[1, peer]]), onSoftState: (_l, s) => s === StateType.Leader && onLeading() });
  await node.start();
  await leading;
  await node.propose({ op: Op.Put, key: 'before', value: Buffer.from('1') });
  await node.close();
  const wal = Wal.open(join(dataDir, 'wal'));
  try {
    const index = wal.lastIndex() + 1;
    const { term, vote } = wal.hardState();
    await wal.append([toWalEntry({ index, term, type: EntryType.Normal, data: poisonBytes(poison) })], { term, vote, commit: index });
  } finally {
    wal.close();
  }
}
