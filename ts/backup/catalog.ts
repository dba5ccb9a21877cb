/**
 * What a backup target holds: the full backups' manifests, the log's segments (by index) and
 * its checkpoint — and whose they are: a target belongs to one cluster (ts/node/cluster_id.ts),
 * so a cluster restored from it (a new cluster) never writes into it and mixes two histories.
 */
import { QuorumError } from '../errors';
import { ENCRYPTED_SUFFIX } from './crypt';
import { CHECKPOINT_NAME, type LogCheckpoint, openCheckpoint, type SegmentName, segmentNames } from './log_segment';
import { manifestNames, readAll, readManifest } from './manifest';
import type { BackupStore } from './store';

/** Reads the target's log checkpoint (undefined: none yet). */
export async function readCheckpoint(store: BackupStore): Promise<LogCheckpoint | undefined> {
  if ((await store.size(CHECKPOINT_NAME)) === undefined) return undefined;
  return openCheckpoint((await readAll(await store.read(CHECKPOINT_NAME))).bytes);
}

function refuseForeign(store: BackupStore, theirs: string | undefined, ours: string, what: string): void {
  if (theirs === undefined || theirs === ours) return; // older versions named no cluster
  throw new QuorumError('backup_target_invalid', `${store.url} holds the ${what} of cluster ${theirs}; this is cluster ${ours} (a restored cluster is a new one): give each cluster its own target`);
}

/** Refuses a log checkpoint of another cluster. */
export function checkOwner(store: BackupStore, cp: LogCheckpoint | undefined, clusterId: string): void {
  refuseForeign(store, cp?.clusterId, clusterId, 'log');
}

/** Refuses a target whose log or newest full backup belongs to another cluster. */
export async function checkTargetOwner(store: BackupStore, clusterId: string): Promise<void> {
  checkOwner(store, await readCheckpoint(store), clusterId);
  const manifests = await manifestsIn(store);
  const newest = manifests[manifests.length - 1];
  if (newest) refuseForeign(store, (await readManifest(store, newest.name)).clusterId, clusterId, 'backups');
}

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
