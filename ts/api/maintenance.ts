/**
 * Maintenance of one member (admin):
 *
 *   POST /v1/maintenance/defrag → {"member","liveBytes","sstBytesBefore","sstBytesAfter","freeBytesBefore","durationMs","snapshotIndex"}
 *     once this member's engine is compacted (node/defrag.ts, etcd's `defrag`); 507 `no_space`
 *     when its disk cannot take the compaction's output, 409 `defrag_in_progress`
 *   POST /v1/maintenance/hash → {"member","index","sha256"}: an `Op.Hash` entry committed, and
 *     this member's digest of the state as of it (node/state_hashes.ts, etcd's HashKV)
 *   GET /v1/maintenance/hash?index=I → the same for entry I; 404 `not_found` (with
 *     `appliedIndex`) when this member has not applied it yet or keeps no digest of it
 */
import { QuorumError } from '../errors';
import { logEvent } from '../log';
import { Op } from '../node/commands';
import { HASHES_KEPT } from '../node/state_hashes';
import { invariant } from '../raft/assert';
import { formatPeerAddress } from '../transport/peer';
import type { ApiContext } from './context';
import type { Reply } from './reply';
import { parseObject, revisionArg } from './args';

function noFields(body: Buffer, what: string): void {
  const fields = body.length === 0 ? [] : Object.keys(parseObject(body, `(a ${what} takes none)`));
  if (fields.length > 0) throw new QuorumError('invalid_body', `a ${what} takes no fields: ${JSON.stringify(fields[0])}`);
}

export async function defrag(ctx: ApiContext, body: Buffer): Promise<Reply> {
  noFields(body, 'defrag');
  const node = ctx.node;
  const freeBytes = await node.space.readNow();
  logEvent('defrag_started', { freeBytes });
  // The barrier entry: this member announces its client address again (`Op.Publish`, as at
  // start; applying the same address changes nothing), which any member may propose, alarm or not.
  const barrier = (): Promise<unknown> => node.propose({ op: Op.Publish, key: `${node.id} ${formatPeerAddress(ctx.client)}` });
  const report = await node.maintenance.defrag(freeBytes, barrier).catch((err: Error & { code?: string }) => {
    logEvent('defrag_failed', { code: err.code ?? 'error', message: err.message });
    throw err;
  });
  logEvent('defrag_done', { ...report });
  return { body: { member: node.id, ...report } };
}

/** This member's digest as of entry `index`. */
async function digestOf(ctx: ApiContext, index: number): Promise<Reply> {
  const node = ctx.node;
  const digest = node.maintenance.hashAt(index);
  if (digest === undefined) {
    const applied = node.status().appliedIndex;
    const why = applied < index ? `this member has applied entries through ${applied} only` : `entry ${index} is not a hash entry, or its digest was taken before this member's last restart or snapshot install, or is older than the last ${HASHES_KEPT}`;
    throw new QuorumError('not_found', `no digest of the state at entry ${index} here: ${why}`, { details: { appliedIndex: applied } });
  }
  return { body: { member: node.id, index, sha256: await digest } };
}

export async function hashState(ctx: ApiContext, body: Buffer): Promise<Reply> {
  noFields(body, 'hash');
  const result = await ctx.node.propose({ op: Op.Hash, key: '' });
  invariant(result.kind === 'hashed', () => `a hash entry answered ${result.kind}`);
  return digestOf(ctx, result.index);
}

export function stateHash(ctx: ApiContext, query: URLSearchParams): Promise<Reply> {
  const index = revisionArg(query.get('index') ?? undefined, 'index');
  if (index === undefined || index < 1) throw new QuorumError('invalid_query', 'index (the hash entry\'s, from POST /v1/maintenance/hash) is required');
  return digestOf(ctx, index);
}
