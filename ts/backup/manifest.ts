/**
 * A full backup's manifest, `snap/<index>-<term>/MANIFEST.json`: the applied index and term of
 * the checkpoint, the membership then, and every file of the checkpoint with its size, SHA-256
 * and the object holding it (`sst/<sha256>.sst` for SST files, shared by every backup that has
 * them; `snap/<index>-<term>/files/<name>` for the rest). `checksum` is the SHA-256 of the
 * manifest's JSON without it, so a damaged manifest is refused before any file is trusted. It is
 * written last: a backup without a manifest is not a backup.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { QuorumError } from '../errors';
import type { MembersRecord } from '../node/membership';
import type { BackupStore } from './store';

export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  /** The file's name in the checkpoint directory. */
  name: string;
  size: number;
  sha256: string;
  /** Where the bytes are in the store. */
  object: string;
}

export interface Manifest {
  version: number;
  index: number;
  term: number;
  createdMs: number;
  /** The node that took it (its id) and the membership it knew. */
  node: number;
  /** The cluster it belongs to (ts/node/cluster_id.ts); absent in backups of older versions. */
  clusterId?: string;
  members: MembersRecord;
  files: ManifestFile[];
  /** Sum of the files' sizes: what a naive full copy would upload. */
  bytes: number;
  /** SHA-256 of the state at `index` (`Engine.stateDigest`), which `verify --deep` recomputes. */
  stateSha256?: string;
  checksum: string;
}

export const snapDir = (index: number, term: number) => `snap/${index}-${term}`;
export const manifestName = (index: number, term: number) => `${snapDir(index, term)}/MANIFEST.json`;
/** A running backup's announcement of the objects it will reference (see ts/backup/retention.ts). */
export const pendingName = (index: number, term: number) => `pending/${index}-${term}-${process.pid}-${Date.now()}.json`;
const MANIFEST_NAME = /^snap\/(\d+)-(\d+)\/MANIFEST\.json$/;

/** The manifests among `names` (object names), oldest index first. */
export function manifestNames(names: readonly string[]): { name: string; index: number; term: number }[] {
  return names.flatMap((name) => {
    const m = MANIFEST_NAME.exec(name);
    return m ? [{ name, index: Number(m[1]), term: Number(m[2]) }] : [];
  }).sort((a, b) => a.index - b.index);
}

function checksumOf(m: Omit<Manifest, 'checksum'>): string {
  return createHash('sha256').update(JSON.stringify(m)).digest('hex');
}

export function sealManifest(m: Omit<Manifest, 'checksum'>): Buffer {
  return Buffer.from(JSON.stringify({ ...m, checksum: checksumOf(m) }, null, 1));
}

/** Parses and checks a manifest (`backup_corrupt` naming `name` if it does not hold). */
export function openManifest(name: string, text: Buffer): Manifest {
  const corrupt = (why: string) => new QuorumError('backup_corrupt', `${name}: ${why}`, { details: { object: name } });
  let doc: Manifest;
  try {
    doc = JSON.parse(text.toString('utf8')) as Manifest;
  } catch {
    throw corrupt('not JSON');
  }
  const { checksum, ...rest } = doc;
  if (typeof checksum !== 'string' || checksumOf(rest) !== checksum) throw corrupt('its checksum does not match its contents');
  if (doc.version !== MANIFEST_VERSION) throw corrupt(`manifest version ${doc.version}; this build reads version ${MANIFEST_VERSION}`);
  return doc;
}

/** Reads and checks the manifest `name` in `store`. */
export async function readManifest(store: BackupStore, name: string): Promise<Manifest> {
  return openManifest(name, (await readAll(await store.read(name))).bytes);
}

/** All of a stream, with its SHA-256 (hex). */
export async function readAll(stream: Readable): Promise<{ bytes: Buffer; sha256: string }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    chunks.push(chunk as Buffer);
  }
  return { bytes: Buffer.concat(chunks), sha256: hash.digest('hex') };
}
