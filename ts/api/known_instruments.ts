/**
 * Instrument names to ids for reads that do not take a read barrier themselves (live streams,
 * replays: they serve what this member has applied). A name this member does not know may be
 * one it has not applied yet: it is refused `unknown_instrument` only after a read barrier
 * (ReadIndex) finds it still unknown, so a client that just ingested is never told "unknown"
 * by a member that lags. Known names cost no round.
 */
import { QuorumError } from '../errors';
import type { RaftNode } from '../node/raft_node';

export async function knownInstrumentIds(node: RaftNode, names: readonly string[]): Promise<number[]> {
  if (names.some((n) => node.market.idOf(n) === undefined)) await node.readBarrier();
  return names.map((n) => {
    const id = node.market.idOf(n);
    if (id === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${n}`);
    return id;
  });
}
