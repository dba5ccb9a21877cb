/**
 * What a backup target holds: the full backups' manifests and the log's segments, by index.
 */
import { QuorumError } from '../errors';
import { ENCRYPTED_SUFFIX } from './crypt';
import { type SegmentName, segmentNames } from './log_segment';
import { manifestNames } from './manifest';
import type { BackupStore } from './store';

/** The manifests in `store`; none but encrypted ones (and no key given) is said so. */
export async function manifestsIn(store: BackupStore): Promise<ReturnType<typeof manifestNames>> {
  const names = await store.list('snap/');
  const all = manifestNames(names);
  if (all.length === 0 && names.some((n) => n.endsWith(`MANIFEST.json${ENCRYPTED_SUFFIX}`))) {
    throw new QuorumError('backup_target_invalid', `the backups in ${store.url} are encrypted: give --encryption-key-file`);
  }
  return all;
}

/** Every log segment in `store`, by first index. */
export async function segmentsIn(store: BackupStore): Promise<SegmentName[]> {
  return segmentNames(await store.list('wal/'));
}
