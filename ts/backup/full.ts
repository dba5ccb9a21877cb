/**
 * Full backups of one node's state machine: a fresh RocksDB checkpoint (taken beside the data,
 * never a half-written one), each file hashed and uploaded — SST files by content hash, so a
 * later backup uploads only the SSTs the store lacks — then the manifest, last. One backup at a
 * time per node (`backup_in_progress`); a failure of the store is `backup_failed` (retryable)
 * and leaves no manifest, so nothing half-uploaded is ever taken for a backup.
 *
 * Limit: `UPLOADS_MAX` files in flight at once.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../errors';
import { Engine } from '../native';
import type { RaftNode } from '../node/raft_node';
import { checkTargetOwner } from './catalog';
import { type ManifestFile, MANIFEST_VERSION, manifestName, pendingName, sealManifest, snapDir } from './manifest';
import type { BackupStore } from './store';
import { type RateLimit, UNLIMITED } from './rate';
import { prune, type PruneReport } from './retention';

export const UPLOADS_MAX = 4;
const SCHEDULE_RETRY_MS_MIN = 1_000;
const SCHEDULE_RETRY_MS_MAX = 300_000;

export interface BackupReport {
  index: number;
  term: number;
  manifest: string;
  files: number;
  /** What a naive full copy would upload. */
  bytes: number;
  /** What this backup uploaded (SSTs the store had are skipped). */
  bytesUploaded: number;
  objectsUploaded: number;
  objectsReused: number;
  ms: number;
  at: string;
  /** What retention removed after this backup (with --backup-retention). */
  pruned?: PruneReport;
}

async function sha256File(path: string, rate: RateLimit): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of rate.read(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The state digest of the checkpoint in `checkpointDir` (opened through hard links in `scratch`,
 * so the checkpoint's own files are not touched), checked to be at `index`.
 */
export async function digestOf(checkpointDir: string, scratch: string, index: number): Promise<string> {
  const engine = Engine.openFromCheckpoint(checkpointDir, scratch);
  try {
    const d = await engine.stateDigest();
    if (d.index !== index) throw new QuorumError('INVARIANT', `the checkpoint is at index ${d.index}, expected ${index}`);
    return d.sha256;
  } finally {
    engine.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface Staged extends ManifestFile {
  path: string;
}

/** Hashes every file of the checkpoint and names its object (SSTs by content). */
async function stage(engineDir: string, index: number, term: number, rate: RateLimit): Promise<Staged[]> {
  const files: Staged[] = [];
  await pool(readdirSync(engineDir).sort(), UPLOADS_MAX, async (name) => {
    const path = join(engineDir, name);
    const size = statSync(path).size;
    const sha256 = await sha256File(path, rate);
    // SST files never change: by content, shared across backups. The rest (RocksDB's MANIFEST,
    // OPTIONS, CURRENT) belong to this checkpoint.
    const object = name.endsWith('.sst') ? `sst/${sha256}.sst` : `${snapDir(index, term)}/files/${name}`;
    files.push({ name, size, sha256, object, path });
  });
  return files.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Takes one full backup of `node` into `store`, using `scratch` for the checkpoint, reading at
 * most `rate`. Against retention running elsewhere (ts/backup/retention.ts): the objects it will
 * reference are announced in a `pending/` marker before it looks for any, and once the manifest
 * is written every object is checked again and put back if it went missing meanwhile.
 */
export async function fullBackup(node: RaftNode, store: BackupStore, scratch: string, rate: RateLimit = UNLIMITED): Promise<BackupReport> {
  const started = performance.now();
  const dir = join(scratch, `full-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  try {
    await checkTargetOwner(store, node.clusterId);
    const engineDir = join(dir, 'engine');
    const { index, term } = await node.maintenance.checkpoint(engineDir);
    const stateSha256 = await digestOf(engineDir, join(dir, 'digest'), index);
    const files = await stage(engineDir, index, term, rate);
    const pending = pendingName(index, term);
    await store.putBytes(pending, Buffer.from(JSON.stringify({ createdMs: Date.now(), objects: files.map((f) => f.object) })));
    let bytesUploaded = 0;
    let objectsUploaded = 0;
    await pool(files, UPLOADS_MAX, async (f) => {
      if ((await store.putFile(f.object, () => rate.read(f.path), f.size, f.object.startsWith('sst/'))) === 'stored') {
        bytesUploaded += f.size;
        objectsUploaded++;
      }
    });
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const manifest = manifestName(index, term);
    const listed = files.map(({ name, size, sha256, object }) => ({ name, size, sha256, object }));
    await store.putBytes(manifest, sealManifest({ version: MANIFEST_VERSION, index, term, createdMs: Date.now(), node: node.id, clusterId: node.clusterId, members: node.members(), files: listed, bytes, stateSha256 }));
    await pool(files, UPLOADS_MAX, async (f) => {
      if ((await store.size(f.object)) !== f.size) await store.putFile(f.object, () => rate.read(f.path), f.size, false);
    });
    await store.delete(pending);
    return { index, term, manifest, files: files.length, bytes, bytesUploaded, objectsUploaded, objectsReused: files.length - objectsUploaded, ms: Math.round(performance.now() - started), at: new Date().toISOString() };
  } catch (err) {
    if (err instanceof QuorumError) throw err;
    throw new QuorumError('backup_failed', `the backup to ${store.url} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BackupMetricsView {
  lastSuccessMs?: number;
  lastDurationMs?: number;
  lastBytesUploaded?: number;
  failures: number;
  /** The live RPO of continuous log backup (undefined: this node does not ship). */
  logLagSeconds?: number;
}

/** A node's backups: the target, the one running, the last result and failures. */
export class NodeBackups {
  private running: Promise<BackupReport> | undefined;
  private last: BackupReport | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Continuous log backup, when on (ts/backup/log_ship.ts). */
  private log: { status(): object; lagSeconds(): number | undefined; close(): void } | undefined;

  constructor(
    private readonly node: RaftNode,
    readonly store: BackupStore | undefined,
    private readonly scratch: string,
    private readonly rate: RateLimit = UNLIMITED,
    /** Backups older than this are deleted after each new one (never the newest). */
    private readonly retentionMs?: number,
  ) {
    // Checkpoints a killed process left behind (hard links that would pin old SSTs on disk).
    rmSync(scratch, { recursive: true, force: true });
  }

  /** Takes a full backup now (answers when it is complete), at the node's rate or `rate`. */
  full(rate: RateLimit = this.rate): Promise<BackupReport> {
    if (!this.store) return Promise.reject(new QuorumError('backup_not_configured', 'this node was started without --backup-target'));
    if (this.running) return Promise.reject(new QuorumError('backup_in_progress', 'a backup is running on this node; retry when it is done', { headers: { 'retry-after': '1' } }));
    const store = this.store;
    const run = fullBackup(this.node, store, this.scratch, rate).then(
      async (report) => {
        // Under the same one-at-a-time lock; a failed prune does not fail the backup.
        if (this.retentionMs !== undefined) {
          report.pruned = await prune(store, this.retentionMs).catch((err: Error) => {
            this.failures++;
            this.lastError = `retention: ${err.message}`;
            return undefined;
          });
        }
        this.last = report;
        return report;
      },
      (err: Error) => {
        this.failures++;
        this.lastError = err.message;
        throw err;
      },
    );
    this.running = run;
    void run.catch(() => undefined).finally(() => (this.running = undefined));
    return run;
  }

  /**
   * The leader takes a full backup every `everyMs` (the other members do not). A failed one (the
   * target down) is retried with exponential backoff, `SCHEDULE_RETRY_MS_MIN` doubling up to
   * `SCHEDULE_RETRY_MS_MAX` (or `everyMs` if shorter), not left for the next interval.
   */
  schedule(everyMs: number, onResult: (report: BackupReport | undefined, err?: Error) => void): void {
    let backoffMs = 0;
    const after = (ms: number) => {
      this.timer = setTimeout(run, ms);
      this.timer.unref();
    };
    const run = () => {
      if (!this.node.isLeader || this.running) return after(everyMs);
      this.full().then(
        (r) => {
          backoffMs = 0;
          onResult(r);
          after(everyMs);
        },
        (err: Error) => {
          backoffMs = Math.min(everyMs, SCHEDULE_RETRY_MS_MAX, Math.max(SCHEDULE_RETRY_MS_MIN, 2 * backoffMs));
          onResult(undefined, err);
          after(backoffMs);
        },
      );
    };
    after(everyMs);
  }

  /** Turns on continuous log backup (the shipper takes its base through `full`). */
  shipLog(shipper: NonNullable<NodeBackups['log']>): void {
    this.log = shipper;
  }

  close(): void {
    clearTimeout(this.timer);
    this.log?.close();
  }

  /** What the metrics export (ts/monitor/metrics.ts). */
  metricsView(): BackupMetricsView {
    const last = this.last;
    return { lastSuccessMs: last ? Date.parse(last.at) : undefined, lastDurationMs: last?.ms, lastBytesUploaded: last?.bytesUploaded, failures: this.failures, logLagSeconds: this.log?.lagSeconds() };
  }

  status(): Record<string, unknown> {
    return { target: this.store?.url ?? null, running: this.running !== undefined, last: this.last ?? null, failures: this.failures, lastError: this.lastError ?? null, log: this.log?.status() ?? null };
  }
}
