/**
 * Retention (`--backup-retention 7d`): backups older than the retention are deleted — never the
 * newest — and then every object no remaining backup references, and the log segments that end
 * before the oldest backup left (the log after it is kept: restores roll forward from it).
 *
 * What is referenced: the files of every retained manifest, and those announced by `pending/`
 * markers of backups still running (markers older than `PENDING_AGE_MAX_MS` are a crashed
 * backup's, and are deleted). The references are listed again right before objects are
 * deleted, so a backup or a manifest that appeared meanwhile keeps its files; the narrow window
 * left (a backup that announces and finds an object between that listing and the delete) is
 * closed by the backup itself, which checks its objects after writing its manifest and puts back
 * any that went missing. A restore of a retained backup never loses a file.
 */
import { type Manifest, manifestNames, readAll, readManifest } from './manifest';
import type { BackupStore } from './store';
import { ENCRYPTED_SUFFIX } from './crypt';
import { segmentsIn } from './catalog';

export const PENDING_AGE_MAX_MS = 24 * 3_600_000;

export interface PruneReport {
  manifestsDeleted: number;
  objectsDeleted: number;
  /** Log segments that end at or before the oldest retained backup (nothing restores through them). */
  segmentsDeleted: number;
}

/** Manifests never change: each is read once per prune (`seen`). */
async function manifest(store: BackupStore, name: string, seen: Map<string, Manifest>): Promise<Manifest> {
  let m = seen.get(name);
  if (!m) seen.set(name, (m = await readManifest(store, name)));
  return m;
}

/** Objects referenced by the manifests `keep` names and by fresh pending markers (stale markers are deleted). */
async function references(store: BackupStore, keep: string[], nowMs: number, seen: Map<string, Manifest>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of keep) for (const f of (await manifest(store, name, seen)).files) out.add(f.object);
  for (const name of await store.list('pending/')) {
    const marker = JSON.parse((await readAll(await store.read(name))).bytes.toString('utf8')) as { createdMs: number; objects: string[] };
    if (nowMs - marker.createdMs > PENDING_AGE_MAX_MS) await store.delete(name);
    else for (const o of marker.objects) out.add(o);
  }
  return out;
}

/** Applies the retention to `store` as of `nowMs`. */
export async function prune(store: BackupStore, retentionMs: number, nowMs = Date.now()): Promise<PruneReport> {
  const all = manifestNames(await store.list('snap/'));
  if (all.length === 0) return { manifestsDeleted: 0, objectsDeleted: 0, segmentsDeleted: 0 };
  const newest = all[all.length - 1].name;
  const seen = new Map<string, Manifest>();
  const expired: string[] = [];
  for (const m of all) if (m.name !== newest && nowMs - (await manifest(store, m.name, seen)).createdMs > retentionMs) expired.push(m.name);
  // Manifests first: from here on nobody starts a restore of an expired backup.
  for (const name of expired) await store.delete(name);
  // (A store without the key lists encrypted objects too: never its to delete.)
  const candidates = (await store.list('sst/'))
    .concat(...(await Promise.all(expired.map((name) => store.list(name.replace(/MANIFEST\.json$/, 'files/'))))))
    .filter((name) => !name.endsWith(ENCRYPTED_SUFFIX));
  // Listed again now: whatever appeared while the candidates were listed keeps its files.
  const live = await references(store, manifestNames(await store.list('snap/')).map((m) => m.name), nowMs, seen);
  let objectsDeleted = 0;
  for (const name of candidates) {
    if (live.has(name)) continue;
    await store.delete(name);
    objectsDeleted++;
  }
  return { manifestsDeleted: expired.length, objectsDeleted, segmentsDeleted: await pruneLog(store) };
}

/** Deletes the log segments that end at or before the oldest backup left (a restore starts at a backup). */
async function pruneLog(store: BackupStore): Promise<number> {
  const oldest = manifestNames(await store.list('snap/'))[0];
  if (!oldest) return 0;
  let deleted = 0;
  for (const s of await segmentsIn(store)) {
    if (s.last > oldest.index) continue;
    await store.delete(s.name);
    deleted++;
  }
  return deleted;
}
