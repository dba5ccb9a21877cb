/**
 * Verify and restore.
 *
 * `verifyBackups` reads every object a manifest names back from the store and checks its size
 * and SHA-256 (and the manifest's own checksum): a missing or damaged object is refused with its
 * name; `--deep` also opens each backup and recomputes its state digest. `restore` downloads the
 * base backup the same way into `<out>/.restore/`, rolls it forward by the shipped log to the
 * point asked for (ts/backup/pitr.ts), then writes one data directory per member of a new
 * cluster, `<out>/n<id>/`, each started with `quorumkv start --cluster` (the same members):
 *
 *   engine/    that state, plus one write at index + 1 that replaces the membership record
 *              with the new cluster's (the old members' addresses must not be dialled)
 *   snap/<index+1>/  a snapshot of that state (meta: the backup's term, the new voters), which
 *              the log starts after — the same layout a node has after installing a snapshot
 *   wal/       empty, starting at index + 2, hard state {term, commit: index + 1}
 *   cluster_id a new random cluster id, the same in every member (ts/node/cluster_id.ts): the new
 *              cluster refuses the old one's members even at the same addresses (etcd's rule)
 *
 * Every member gets the same state at the same index, so the new cluster starts consistent.
 *
 * Limit: `UPLOADS_MAX` (the same bound) downloads in flight at once.
 */
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { QuorumError } from '../errors';
import { Engine, Wal } from '../native';
import { encodeRecord, MEMBERS_KEY, type MembersRecord } from '../node/membership';
import { writeClusterId } from '../node/cluster_id';
import { SnapshotStore } from '../node/snapshots';
import { randomClusterId } from '../transport/hello';
import { formatPeerAddress, type PeerAddress } from '../transport/peer';
import { digestOf, pool, UPLOADS_MAX } from './full';
import { type Manifest, type ManifestFile, readManifest } from './manifest';
import type { BackupStore } from './store';
import { manifestsIn } from './catalog';
import { planRestore, type PointInTime, rollForward } from './pitr';

export interface Progress {
  files: number;
  filesTotal: number;
  bytes: number;
  bytesTotal: number;
  /** Log entries applied on top of the full backup so far. */
  entries: number;
}

const corrupt = (f: ManifestFile, why: string) => new QuorumError('backup_corrupt', `${f.object} (${f.name}): ${why}`, { details: { object: f.object } });

/** Streams one object to `dest` (or nowhere), checking its size and SHA-256. */
async function fetchChecked(store: BackupStore, f: ManifestFile, dest: string | undefined, onBytes: (n: number) => void): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      onBytes(chunk.length);
      done(null, dest === undefined ? undefined : chunk);
    },
  });
  const source = await store.read(f.object);
  if (dest === undefined) await pipeline(source, meter, async (s) => { for await (const _ of s) void _; });
  else await pipeline(source, meter, createWriteStream(dest));
  if (size !== f.size) throw corrupt(f, `${size} bytes, the manifest says ${f.size}`);
  if (hash.digest('hex') !== f.sha256) throw corrupt(f, 'its SHA-256 does not match the manifest');
}

async function fetchAll(store: BackupStore, m: Manifest, dir: string | undefined, onProgress?: (p: Progress) => void): Promise<void> {
  const p: Progress = { files: 0, filesTotal: m.files.length, bytes: 0, bytesTotal: m.bytes, entries: 0 };
  await pool(m.files, UPLOADS_MAX, async (f) => {
    await fetchChecked(store, f, dir === undefined ? undefined : join(dir, f.name), (n) => {
      p.bytes += n;
    });
    p.files++;
    onProgress?.({ ...p });
  });
}

export interface VerifiedBackup {
  index: number;
  term: number;
  files: number;
  bytes: number;
  /** With `deep`: the state digest recomputed from the downloaded files matched the manifest's. */
  stateSha256?: string;
}

/**
 * Checks the backups in `store` (or the one at `index`): every object present, sized and hashed
 * as its manifest says. `deep` (into `scratch`): each backup is downloaded and opened, and the
 * state digest at its index recomputed and compared with the one recorded when it was taken.
 */
export async function verifyBackups(store: BackupStore, index?: number, deep?: { scratch: string }): Promise<VerifiedBackup[]> {
  const names = await manifestsIn(store);
  const chosen = index === undefined ? names : names.filter((n) => n.index === index);
  if (chosen.length === 0) throw new QuorumError('backup_object_missing', `no backup${index === undefined ? '' : ` at index ${index}`} in ${store.url}`);
  const out: VerifiedBackup[] = [];
  for (const n of chosen) {
    const m = await readManifest(store, n.name);
    if (!deep) {
      await fetchAll(store, m, undefined);
      out.push({ index: m.index, term: m.term, files: m.files.length, bytes: m.bytes });
      continue;
    }
    if (m.stateSha256 === undefined) throw new QuorumError('backup_corrupt', `${n.name} records no state digest (taken by an older version): verify --deep cannot check it`, { details: { object: n.name } });
    const dir = join(deep.scratch, `verify-${m.index}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'files'), { recursive: true });
    try {
      await fetchAll(store, m, join(dir, 'files'));
      const got = await digestOf(join(dir, 'files'), join(dir, 'engine'), m.index);
      if (got !== m.stateSha256) throw new QuorumError('backup_corrupt', `${n.name}: the restored state's digest ${got} differs from the one recorded at backup time, ${m.stateSha256}`, { details: { object: n.name } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    out.push({ index: m.index, term: m.term, files: m.files.length, bytes: m.bytes, stateSha256: m.stateSha256 });
  }
  return out;
}

export interface RestoreOptions extends PointInTime {
  out: string;
  cluster: Map<number, PeerAddress>;
  onProgress?: (p: Progress) => void;
}

export interface RestoreReport {
  /** The index and term the new cluster starts from. */
  index: number;
  term: number;
  /** The full backup it started from, and the log entries applied on top. */
  baseIndex: number;
  entriesReplayed: number;
  segments: number;
  dataDirs: string[];
  /** The new cluster's id (random: it must never talk to the cluster the backup came from). */
  clusterId: string;
}

/**
 * Restores into one data directory per member of a new cluster: the newest full backup at or
 * before the point asked for, rolled forward by the log (ts/backup/pitr.ts).
 */
export async function restore(store: BackupStore, opts: RestoreOptions): Promise<RestoreReport> {
  const ids = [...opts.cluster.keys()].sort((a, b) => a - b);
  for (const id of ids) if (existsSync(join(opts.out, `n${id}`))) throw new QuorumError('backup_target_invalid', `${join(opts.out, `n${id}`)} exists: restore into new directories only`);
  const plan = await planRestore(store, opts);
  const staging = join(opts.out, '.restore');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'base'), { recursive: true });
  try {
    await fetchAll(store, plan.base, join(staging, 'base'), opts.onProgress);
    let entriesReplayed = 0;
    const fetched: Progress = { files: plan.base.files.length, filesTotal: plan.base.files.length, bytes: plan.base.bytes, bytesTotal: plan.base.bytes, entries: 0 };
    const state = await rollForward(store, plan, join(staging, 'base'), join(staging, 'replay'), opts, (n) => {
      entriesReplayed += n;
      opts.onProgress?.({ ...fetched, entries: entriesReplayed });
    });
    const dataDirs: string[] = [];
    const clusterId = randomClusterId();
    for (const id of ids) {
      const dataDir = await memberDir(opts.out, id, state.dir, state, opts.cluster);
      writeClusterId(dataDir, clusterId);
      dataDirs.push(dataDir);
    }
    return { index: state.index, term: state.term, baseIndex: plan.base.index, entriesReplayed, segments: plan.segments.length, dataDirs, clusterId };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function memberDir(out: string, id: number, checkpoint: string, m: { index: number; term: number }, cluster: Map<number, PeerAddress>): Promise<string> {
  const dataDir = join(out, `n${id}`);
  const voters = [...cluster.keys()].sort((a, b) => a - b);
  const index = m.index + 1;
  const engine = Engine.openFromCheckpoint(checkpoint, join(dataDir, 'engine'));
  try {
    const addresses = Object.fromEntries(voters.map((v) => [String(v), { peer: formatPeerAddress(cluster.get(v)!) }]));
    const rec: MembersRecord = { confIndex: index, voters, learners: [], addresses };
    await engine.apply([{ op: 'put', key: MEMBERS_KEY, value: encodeRecord(rec) }], index);
    await new SnapshotStore(dataDir).create(engine, () => m.term, () => ({ voters, learners: [] }));
  } finally {
    engine.close();
  }
  const wal = Wal.open(join(dataDir, 'wal'));
  try {
    await wal.reset(index + 1);
    await wal.append([], { term: m.term, vote: 0, commit: index });
  } finally {
    wal.close();
  }
  return dataDir;
}
