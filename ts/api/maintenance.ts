/**
 * Maintenance of one member (admin):
 *
 *   POST /v1/maintenance/defrag → {"member","sstBytesBefore","sstBytesAfter","freeBytesBefore","durationMs","snapshotIndex"}
 *     once this member's engine is compacted (node/defrag.ts, etcd's `defrag`); 507 `no_space`
 *     when its disk cannot take the compaction's output, 409 `defrag_in_progress`
 */
import { logEvent } from '../log';
import { Op } from '../node/commands';
import { formatPeerAddress } from '../transport/peer';
import type { ApiContext } from './context';
import type { Reply } from './reply';
import { QuorumError } from '../errors';
import { parseObject } from './args';

export async function defrag(ctx: ApiContext, body: Buffer): Promise<Reply> {
  const fields = body.length === 0 ? [] : Object.keys(parseObject(body, '(a defrag takes none)'));
  if (fields.length > 0) throw new QuorumError('invalid_body', `a defrag takes no fields: ${JSON.stringify(fields[0])}`);
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
