/**
 * Snapshots on disk: `<data>/snap/<index>/` holds a RocksDB checkpoint (`engine/`) taken at
 * applied index `index`, and `meta.json` (index, term, configuration). A directory is built
 * under a `.tmp` name, fsynced, then renamed: a snapshot directory without the suffix is
 * always complete. The Raft `Snapshot.data` that travels in messages is just the index in
 * ASCII; the files go over a separate stream (`ts/transport/snapshot_stream.ts`).
 *
 * Installing a received snapshot replaces the engine directory and resets the WAL, which
 * cannot be one atomic step, so it is bracketed by `install.json`: written (and synced) first,
 * removed last. A node that finds it at start redoes the install from the named snapshot,
 * which is idempotent — so a crash anywhere leaves either the old state (no marker yet) or the
 * new one.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../native';
import type { ConfState, Snapshot } from '../raft/types';

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface SnapshotFile {
  /** Path relative to the snapshot directory. */
  name: string;
  size: number;
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs every file under `dir`, then the directories themselves. */
export function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

/**
 * `fsyncTree` off the event loop, one file at a time (so it takes one libuv pool thread, and
 * engine writes queued on the pool are not held behind a burst of fsyncs).
 */
export async function fsyncTreeAsync(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTreeAsync(p);
    else await fsyncPathAsync(p);
  }
  await fsyncPathAsync(dir);
}

async function fsyncPathAsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const snapshotData = (index: number): Uint8Array => Buffer.from(String(index), 'ascii');

export function snapshotIndexOf(data: Uint8Array): number {
  const n = Number(Buffer.from(data).toString('ascii'));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`snapshot data is not an index: ${JSON.stringify(Buffer.from(data).toString('latin1').slice(0, 40))}`);
  return n;
}

export function toRaftSnapshot(meta: SnapshotMeta): Snapshot {
  return { metadata: { index: meta.index, term: meta.term, confState: structuredClone(meta.confState) }, data: snapshotData(meta.index) };
}

export class SnapshotStore {
  readonly dir: string;

  constructor(private readonly dataDir: string) {
    this.dir = join(dataDir, 'snap');
    mkdirSync(this.dir, { recursive: true });
    // Half-built or half-received snapshots from before a crash are garbage.
    for (const name of readdirSync(this.dir)) if (name.endsWith('.tmp')) rmSync(join(this.dir, name), { recursive: true, force: true });
  }

  path(index: number): string {
    return join(this.dir, String(index));
  }

  /** Indexes of complete snapshots, oldest first. */
  indexes(): number[] {
    return readdirSync(this.dir)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  meta(index: number): SnapshotMeta {
    return JSON.parse(readFileSync(join(this.path(index), 'meta.json'), 'utf8')) as SnapshotMeta;
  }

  latest(): SnapshotMeta | undefined {
    const all = this.indexes();
    return all.length > 0 ? this.meta(all[all.length - 1]) : undefined;
  }

  /**
   * Checkpoints the engine and records the snapshot. `termOf(index)` and `confOf(index)`
   * describe the log at the checkpoint's applied index, only known once the checkpoint exists.
   */
  async create(engine: Engine, termOf: (index: number) => number, confOf: (index: number) => ConfState): Promise<SnapshotMeta> {
    const tmp = join(this.dir, `create-${process.pid}-${Date.now()}.tmp`);
    mkdirSync(tmp);
    const index = await engine.checkpoint(join(tmp, 'engine'));
    const meta: SnapshotMeta = { index, term: termOf(index), confState: confOf(index) };
    // Off the event loop: fsyncing a checkpoint's files took 2-37 ms, and every node snapshots
    // at about the same index, so the followers' loops stalled together and commits waited.
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
    await fsyncTreeAsync(tmp);
    this.rename(tmp, meta);
    return meta;
  }

  /** A directory for receiving a snapshot's files; `seal` or `discard` it. */
  receiving(index: number): string {
    const tmp = join(this.dir, `recv-${index}-${Date.now()}.tmp`);
    mkdirSync(tmp);
    return tmp;
  }

  /** Makes a fully written `.tmp` directory the snapshot `meta.index` (fsync, then rename). */
  seal(tmp: string, meta: SnapshotMeta): void {
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta));
    fsyncTree(tmp);
    this.rename(tmp, meta);
  }

  /** Renames a sealed (written and fsynced) `.tmp` directory to snapshot `meta.index`. */
  private rename(tmp: string, meta: SnapshotMeta): void {
    const final = this.path(meta.index);
    if (existsSync(final)) {
      // The same index means the same committed state: keep the one we have.
      rmSync(tmp, { recursive: true, force: true });
      return;
    }
    renameSync(tmp, final);
    fsyncPath(this.dir);
  }

  discard(tmp: string): void {
    rmSync(tmp, { recursive: true, force: true });
  }

  /** Every file of a snapshot, for streaming (meta.json last: the receiver checks it). */
  files(index: number): SnapshotFile[] {
    const root = this.path(index);
    const out: SnapshotFile[] = [];
    const walk = (rel: string) => {
      for (const name of readdirSync(join(root, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        const st = statSync(join(root, r));
        if (st.isDirectory()) walk(r);
        else if (r !== 'meta.json') out.push({ name: r, size: st.size });
      }
    };
    walk('');
    out.push({ name: 'meta.json', size: statSync(join(root, 'meta.json')).size });
    return out;
  }

  remove(index: number): void {
    rmSync(this.path(index), { recursive: true, force: true });
  }

  /**
   * Removes snapshot `index` off the event loop (freeing the last links of a checkpoint's SST
   * files took up to 41 ms): renamed to a `.tmp` name first, so it is gone from `indexes()` at
   * once and a crash mid-removal leaves garbage the next open clears.
   */
  async removeAsync(index: number): Promise<void> {
    if (!existsSync(this.path(index))) return; // (another prune took it)
    const doomed = join(this.dir, `remove-${index}-${process.pid}-${Date.now()}.tmp`);
    renameSync(this.path(index), doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  // --- install bracketing ----------------------------------------------------------------

  private get markerPath(): string {
    return join(this.dataDir, 'install.json');
  }

  beginInstall(index: number): void {
    writeFileSync(this.markerPath, JSON.stringify({ index }));
    fsyncPath(this.markerPath);
    fsyncPath(this.dataDir);
  }

  /** The snapshot an interrupted install was installing, if any. */
  pendingInstall(): number | undefined {
    if (!existsSync(this.markerPath)) return undefined;
    return (JSON.parse(readFileSync(this.markerPath, 'utf8')) as { index: number }).index;
  }

  endInstall(): void {
    rmSync(this.markerPath, { force: true });
    fsyncPath(this.dataDir);
  }
}
