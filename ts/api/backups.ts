/**
 * The backup API (admin):
 *
 *   POST /v1/backups → 201 {"index","term","manifest","files","bytes","bytesUploaded",...} once the
 *                      full backup is complete in the node's --backup-target
 *   GET  /v1/backups → {"target","running","last","failures","lastError"}
 */
import { QuorumError } from '../errors';
import type { ApiContext } from './context';
import type { Reply } from './reply';

function backups(ctx: ApiContext): NonNullable<ApiContext['backups']> {
  if (!ctx.backups) throw new QuorumError('backup_not_configured', 'this node was started without --backup-target');
  return ctx.backups;
}

export async function createBackup(ctx: ApiContext): Promise<Reply> {
  return { status: 201, body: await backups(ctx).full() };
}

export function backupStatus(ctx: ApiContext): Reply {
  return { body: ctx.backups?.status() ?? { target: null, running: false, last: null, failures: 0, lastError: null } };
}
