/**
 * Opening a node's data directory: the WAL, the engine (finishing a snapshot install a crash
 * interrupted), the snapshot the log starts after, and the configuration to start from.
 *
 * The log of a bootstrapped cluster starts after `BOOTSTRAP_INDEX`: every founding node begins
 * from the same empty snapshot there (term 1, configuration `members`), so a node that joins
 * later — whose log is empty — can never be sent entries from index 1 (which would replay the
 * log without knowing the founding configuration): the leader has to send it a snapshot, which
 * carries the configuration. (TiKV starts its regions the same way.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../errors';
import { Engine, type EngineOptions, Wal, type WalOptions } from '../native';
import type { Snapshot } from '../raft/types';
import type { PeerAddress } from '../transport/peer';
import { storedMembers } from './applier';
import { type ClusterIdSource, resolveClusterId } from './cluster_id';
import { confStateOf, initialRecord, type MembersRecord } from './membership';
import { WalStorage } from './raft_storage';
import { SnapshotStore, toRaftSnapshot } from './snapshots';

export const BOOTSTRAP_INDEX = 1;

export interface OpenOptions extends ClusterIdSource {
  id: number;
  /** The founding voters (with their addresses), when bootstrapping a new cluster. */
  members: ReadonlyMap<number, PeerAddress>;
  /** Joining an existing cluster: with no state, start empty and wait for a snapshot. */
  joining: boolean;
  /** Joining with no state: the cluster's term when this node was added (see RaftNodeConfig). */
  joinTerm?: number;
  walFaults?: Pick<WalOptions, 'failSyncAt' | 'tornWriteAt' | 'allowStall'>;
  /** RocksDB memtable size (undefined: the addon's default). */
  memtableBytes?: number;
  /** The WAL's write + fdatasync path (undefined: the addon's `auto`, io_uring where allowed). */
  walBackend?: WalOptions['backend'];
}

export interface OpenedStorage {
  wal: Wal;
  engine: Engine;
  storage: WalStorage;
  snaps: SnapshotStore;
  /** The data directory's cluster (cluster_id.ts). */
  clusterId: string;
  /** The configuration of the snapshot the log starts after (used when the engine has no record). */
  snapshotMembers: MembersRecord;
}

/** Opens (or creates) the WAL and the engine under `dataDir`. */
export async function openStorage(opts: OpenOptions): Promise<OpenedStorage> {
  mkdirSync(opts.dataDir, { recursive: true });
  const clusterId = resolveClusterId(opts);
  const wal = Wal.open(join(opts.dataDir, 'wal'), { ...opts.walFaults, backend: opts.walBackend });
  const snaps = new SnapshotStore(opts.dataDir);
  const engine = await openEngine(opts.dataDir, wal, snaps, { writeBufferBytes: opts.memtableBytes });
  // A received snapshot that was never installed is newer than the engine: not ours yet.
  const applied = engine.appliedIndex();
  for (const index of snaps.indexes()) if (index > applied) snaps.remove(index);
  let initial: Snapshot;
  try {
    initial = await initialSnapshot(opts, wal, snaps, applied);
  } catch (err) {
    wal.close();
    engine.close();
    throw err;
  }
  // The configuration at the engine's applied index: the record the engine holds (written with
  // every change), or — none written yet — the snapshot's.
  const snapshotMembers = initialRecord(initial.metadata.confState);
  const members = storedMembers(engine) ?? snapshotMembers;
  const storage = await WalStorage.open(wal, initial, confStateOf(members));
  return { wal, engine, storage, snaps, clusterId, snapshotMembers };
}

async function openEngine(dataDir: string, wal: Wal, snaps: SnapshotStore, options: EngineOptions): Promise<Engine> {
  const interrupted = snaps.pendingInstall();
  if (interrupted === undefined) return Engine.open(join(dataDir, 'engine'), options);
  // A crash during a snapshot install: finish it (both steps are idempotent).
  const engine = Engine.openFromCheckpoint(join(snaps.path(interrupted), 'engine'), join(dataDir, 'engine'), options);
  await wal.reset(interrupted + 1);
  snaps.endInstall();
  return engine;
}

/** The snapshot the log starts after: the newest on disk, none yet (a joiner), or the bootstrap one. */
async function initialSnapshot(opts: OpenOptions, wal: Wal, snaps: SnapshotStore, applied: number): Promise<Snapshot> {
  const latest = snaps.latest();
  if (latest) return toRaftSnapshot(latest);
  if (opts.joining && applied === 0 && wal.lastIndex() < wal.firstIndex()) {
    // Nothing yet: no configuration either, until the leader's snapshot brings one.
    const hs = wal.hardState();
    if (opts.joinTerm !== undefined && hs.term < opts.joinTerm) await wal.append([], { term: opts.joinTerm, vote: opts.id, commit: 0 });
    return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
  }
  const index = BOOTSTRAP_INDEX;
  if (wal.firstIndex() <= index && wal.lastIndex() >= index) {
    // Written by a version whose log began at index 1 with no bootstrap snapshot: its entry 1
    // is not the bootstrap snapshot, and reading it as one would break log matching.
    throw new QuorumError('DATA_LAYOUT_UNSUPPORTED', `${opts.dataDir} holds a log that starts at index ${index} without a snapshot (an older data layout); start this node with an empty data directory`);
  }
  if (wal.lastIndex() < wal.firstIndex() && wal.firstIndex() <= index) await wal.reset(index + 1);
  return { metadata: { index, term: 1, confState: { voters: [...opts.members.keys()].sort((a, b) => a - b), learners: [] } }, data: new Uint8Array() };
}

/**
 * Where the core resumes applying. The engine may be ahead of the persisted commit index (a
 * commit-only change is not written as it happens: ready_io.ts), never of the log; entries it
 * already holds are skipped by the applier when the core hands them out again.
 */
export function resumeIndex(engineApplied: number, storage: WalStorage): number {
  // Never below the snapshot: the entries before it are gone, and the engine holds them.
  return Math.max(storage.snapshot().metadata.index, Math.min(engineApplied, storage.initialState().hardState.commit, storage.lastIndex()));
}
