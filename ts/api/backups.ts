/**
 * The backup API (admin):
 *
 *   POST /v1/backups [{"rateMib": n}] → 201 {"index","term","manifest","files","bytes","bytesUploaded",...}
 *                      once the full backup is complete in the node's --backup-target (`rateMib`:
 *                      this backup's read rate instead of --backup-rate-mib; 0: unlimited)
 *   GET  /v1/backups → {"target","running","last","failures","lastError"}
 */
import { QuorumError } from '../errors';
import type { ApiContext } from './context';
import type { Reply } from './reply';
import { onlyFields, parseObject } from './args';
import { RateLimit } from '../backup/rate';

function backups(ctx: ApiContext): NonNullable<ApiContext['backups']> {
  if (!ctx.backups) throw new QuorumError('backup_not_configured', 'this node was started without --backup-target');
  return ctx.backups;
}

export async function createBackup(ctx: ApiContext, body: Buffer): Promise<Reply> {
  const b = backups(ctx);
  if (body.length === 0) return { status: 201, body: await b.full() };
  const doc = parseObject(body, '{"rateMib"?: n}');
  onlyFields(doc, new Set(['rateMib']), 'the body');
  const rate = doc.rateMib;
  if (rate !== undefined && (!Number.isSafeInteger(rate) || (rate as number) < 0)) throw new QuorumError('invalid_body', 'rateMib must be a whole number of MiB/s (0: unlimited)');
  return { status: 201, body: await b.full(rate === undefined ? undefined : new RateLimit((rate as number) * 2 ** 20)) };
}

export function backupStatus(ctx: ApiContext): Reply {
  return { body: ctx.backups?.status() ?? { target: null, running: false, last: null, failures: 0, lastError: null } };
}
