/**
 * The snapshot lifecycle of one node: create (a background engine checkpoint once enough was
 * applied, then log compaction), stream (to a follower too far behind), install (a received
 * snapshot replaces the engine and the log), prune (keep the newest and any still streaming).
 *
 * Invariants: at most one snapshot is being created (`creating`); no snapshot is created while
 * one is installed (`installing`), and an install waits for a creation in progress; a snapshot
 * directory being streamed is never pruned (`streaming` counts the streams per index).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError, UnavailableError } from '../errors';
import { invariant } from '../raft/assert';
import { Engine, type EngineOptions } from '../native';
import type { Entry, Message, Snapshot } from '../raft/types';
import type { PeerAddress } from '../transport/peer';
import { sendSnapshot, type SnapshotReceiverHooks } from '../transport/snapshot_stream';
import type { PeerTls } from '../transport/peer_tls';
import type { Applier } from './applier';
import type { ConfTracker } from './conf_tracker';
import { initialRecord } from './membership';
import type { WalStorage } from './raft_storage';
import { type SnapshotStore, snapshotIndexOf, toRaftSnapshot } from './snapshots';
import { compactEngine, type DefragReport } from './defrag';

/** `receive_failed`: a stream from a leader was refused (its files removed). */
export type SnapshotEvent = 'created' | 'installed' | 'sent' | 'send_failed' | 'receive_failed';
export type SnapshotEventDetail = { to?: number; error?: string; ms?: number; bytes?: number };

export interface SnapshotPolicy {
  /** This member's id, and the members it starts with (one alone staggers with nobody). */
  id: number;
  members: ReadonlyMap<number, unknown>;
  joining?: boolean;
  /** Take a snapshot once this many entries were applied since the last. */
  snapshotEntries: number;
  /** ... or once the entries applied since the last hold this many bytes. */
  snapshotLogBytes: number;
  /** Entries kept in the log before a snapshot, for followers slightly behind ... */
  snapshotCatchUpEntries: number;
  /** ... at most this many bytes of them (1,000 entries of 1 MiB values would keep a GiB on disk and in memory). */
  snapshotCatchUpBytes: number;
}

/**
 * The log as continuous log backup reads it (ts/backup/log_ship.ts). While `holdFrom` is set,
 * compaction keeps the entries from it on — at most `LOG_HOLD_ENTRIES_MAX` of them before a
 * snapshot, so a log store that is down cannot grow the log without bound (the shipper then finds
 * a gap and starts again from a full backup).
 */
export interface ShippingLog {
  firstIndex(): number;
  lastIndex(): number;
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  holdFrom: number | undefined;
}

export const LOG_HOLD_ENTRIES_MAX = 200_000;

/**
 * Where in the snapshot interval member `id` takes its snapshots, as a fraction of it: the
 * golden-ratio sequence, so any number of members stays spread. Members apply the same entries,
 * so with one threshold they all flushed and checkpointed at the same index, and on a shared
 * host their flushes took the cores together (acks stalled 80-140 ms each time, measured with
 * three nodes at 100K events/s). Delaying each member's first snapshot by its phase keeps
 * their snapshots apart from then on: the interval is the same for all.
 */
export function snapshotPhase(id: number): number {
  return (id * 0.6180339887498949) % 1;
}

/** What the lifecycle needs of its driver. */
export interface SnapshotHost {
  readonly dataDir: string;
  /** How the engine is opened (an installed checkpoint is opened alike). */
  readonly engineOptions: EngineOptions;
  readonly storage: WalStorage;
  readonly snaps: SnapshotStore;
  readonly applier: Applier;
  readonly conf: ConfTracker;
  /** The state machine; replaced by an install. */
  engine: Engine;
  /** No new work may start (stopping, or stopped by a failure). */
  halted(): boolean;
  addressOf(id: number): PeerAddress | undefined;
  /** Mutual TLS for snapshot streams, as for all peer traffic (none: plain TCP). */
  readonly peerTls?: PeerTls;
  /** Snapshot streams open with this cluster's hello (ts/transport/hello.ts). */
  readonly clusterId: string;
  /** Tells the core how streaming a snapshot to `to` ended. */
  reportSnapshot(to: number, ok: boolean): void;
  /** The peer set changed (the configuration did). */
  peersChanged(): void;
  fail(err: Error): void;
  onSnapshot?: (event: SnapshotEvent, index: number, detail?: SnapshotEventDetail) => void;
}

/** What a node lends to backups and operators: `checkpoint`, `log`, `defrag`, `hashAt`. */
export type EngineMaintenance = Pick<SnapshotLifecycle, 'checkpoint' | 'log' | 'defrag' | 'hashAt'>;

export class SnapshotLifecycle {
  /** The snapshot being created, if any (at most one). */
  private creating: Promise<void> | undefined;
  /** A received snapshot is being installed: no snapshot may be created meanwhile. */
  private installing = false;
  /** Engine work beside applying: backups' checkpoints, a defrag (an install waits for them: it closes the engine). */
  private readonly engineWork = new Set<Promise<unknown>>();
  /** A defrag is running (at most one). */
  private defragging = false;
  /** The next snapshot is due at the next entry applied, whatever the policy (a defrag's). */
  private cutNext = false;
  /** Snapshot index → streams in progress (such a snapshot is not pruned). */
  private readonly streaming = new Map<number, number>();
  /** Bytes of entries handed out for applying since the last snapshot began. */
  private logBytesSinceSnapshot = 0;
  /** The first snapshot waits this fraction of an interval longer (`snapshotPhase`); then 0. */
  private phase: number;
  readonly log: ShippingLog;

  constructor(
    private readonly host: SnapshotHost,
    private readonly policy: SnapshotPolicy,
  ) {
    const storage = host.storage;
    this.phase = policy.members.size > 1 || policy.joining ? snapshotPhase(policy.id) : 0;
    this.log = { firstIndex: () => storage.firstIndex(), lastIndex: () => storage.lastIndex(), entries: (lo, hi, maxBytes) => storage.entries(lo, hi, maxBytes), holdFrom: undefined };
  }

  /** Counts entries handed out for applying (the bytes trigger). */
  handedOut(bytes: number): void {
    this.logBytesSinceSnapshot += bytes;
  }

  /** Resolves once no snapshot is being created and no engine work (checkpoint, defrag) runs. */
  async idle(): Promise<void> {
    await this.creating;
    await Promise.all([...this.engineWork].map((w) => w.catch(() => undefined)));
  }

  /** Runs `work` on the engine; refused (retryable) during an install, which waits for it in turn. */
  private withEngine<T>(what: string, work: (engine: Engine) => Promise<T>): Promise<T> {
    const h = this.host;
    if (this.installing || h.halted()) return Promise.reject(new UnavailableError(`a snapshot is being installed or the node is stopping; retry the ${what}`));
    const running = work(h.engine);
    this.engineWork.add(running);
    const done = (): void => void this.engineWork.delete(running);
    running.then(done, done);
    return running;
  }

  /**
   * A checkpoint of the engine in `dir` for a backup, and the term of its applied index. Refused
   * (retryable) while a received snapshot is being installed.
   */
  checkpoint(dir: string): Promise<{ index: number; term: number }> {
    return this.withEngine('backup', async (engine) => {
      const index = await engine.checkpoint(dir);
      return { index, term: this.host.storage.term(index) };
    });
  }

  /**
   * Compacts the whole engine (`defrag.ts`; `freeBytes`: the data directory's free space now),
   * then cuts a snapshot so the previous one's links to the replaced files go. One at a time.
   * `barrier` commits an entry of this member's own, for when the last snapshot is at the
   * applied index already (a snapshot has one index).
   */
  async defrag(freeBytes: number, barrier: () => Promise<unknown>): Promise<DefragReport> {
    if (this.defragging) throw new QuorumError('defrag_in_progress', 'a defrag of this member is already running; its answer reports it');
    this.defragging = true;
    try {
      const report = await this.withEngine('defrag', (engine) => compactEngine(engine, freeBytes));
      return { ...report, snapshotIndex: (await this.cutAfter(barrier)) ?? null };
    } finally {
      this.defragging = false;
    }
  }

  /** This member's digest of the state as of `Op.Hash` entry `index`, if taken here and kept (`state_hashes.ts`). */
  hashAt(index: number): Promise<string> | undefined {
    return this.host.applier.hashes.at(index);
  }

  /**
   * A snapshot of what is applied now. Where the last one has that index (under the disk-space
   * alarm a snapshot follows every delete), `barrier`'s entry gives the next one its index;
   * undefined if that entry could not be committed (then the next entry applied cuts one).
   */
  private async cutAfter(barrier: () => Promise<unknown>): Promise<number | undefined> {
    await this.creating;
    const h = this.host;
    if (h.applier.applied <= h.storage.snapshot().metadata.index) {
      this.cutNext = true;
      if (!(await barrier().then(() => true, () => false))) return undefined;
    }
    this.maybeCreate(true);
    await this.creating;
    return h.storage.snapshot().metadata.index;
  }

  /** Starts a background snapshot + compaction when enough was applied since the last one. */
  maybeCreate(force = false): void {
    const h = this.host;
    if (this.creating || this.installing || h.halted()) return;
    const since = h.applier.applied - h.storage.snapshot().metadata.index;
    if (since < 1) return;
    const scale = 1 + this.phase;
    if (!force && !this.cutNext && since < this.policy.snapshotEntries * scale && this.logBytesSinceSnapshot < this.policy.snapshotLogBytes * scale) return;
    this.cutNext = false;
    this.logBytesSinceSnapshot = 0;
    this.phase = 0;
    this.creating = this.create()
      .catch((err: Error) => h.fail(err))
      .finally(() => {
        this.creating = undefined;
      });
  }

  private async create(): Promise<void> {
    const h = this.host;
    const started = performance.now();
    const meta = await h.snaps.create(h.engine, (i) => h.storage.term(i), (i) => h.conf.confAt(i));
    // An install may have moved the log past it meanwhile: then this one is obsolete.
    if (meta.index > h.storage.snapshot().metadata.index && meta.index <= h.storage.lastIndex()) {
      const hold = this.log.holdFrom === undefined ? 0 : Math.min(LOG_HOLD_ENTRIES_MAX, meta.index - this.log.holdFrom + 1);
      const catchUp = h.storage.tailEntries(meta.index, this.policy.snapshotCatchUpEntries, this.policy.snapshotCatchUpBytes);
      await h.storage.compact(toRaftSnapshot(meta), Math.max(catchUp, hold));
      h.onSnapshot?.('created', meta.index, { ms: Math.round(performance.now() - started) });
    }
    await this.prune();
  }

  /** Keeps the newest snapshot, and any being streamed. */
  private async prune(): Promise<void> {
    const h = this.host;
    const newest = h.storage.snapshot().metadata.index;
    h.conf.prune(newest);
    for (const index of h.snaps.indexes()) if (index < newest && !this.streaming.has(index)) await h.snaps.removeAsync(index);
  }

  /**
   * Follower: where snapshot streams from the leader go. A complete stream is checked against its
   * message, sealed as a snapshot, and its MsgSnap handed to `deliver` (the core installs it
   * between Readies); a failed one is removed and reported.
   */
  receiver(snapshotBytesMax: number, deliver: (msg: Message) => void): SnapshotReceiverHooks {
    const h = this.host;
    return {
      snapshotBytesMax,
      begin: (msg) => h.snaps.receiving(msg.snapshot!.metadata.index),
      commit: (msg, dir) => {
        const md = msg.snapshot!.metadata;
        const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { index: number; term: number };
        if (meta.index !== md.index || meta.term !== md.term || snapshotIndexOf(msg.snapshot!.data) !== md.index) {
          throw new QuorumError('SNAPSHOT_MISMATCH', `streamed files are snapshot ${meta.index}/${meta.term}, the message says ${md.index}/${md.term}`);
        }
        h.snaps.seal(dir, { index: md.index, term: md.term, confState: md.confState });
        deliver(msg);
      },
      discard: (dir, reason) => {
        if (dir) h.snaps.discard(dir);
        const index = Number(/recv-(\d+)-/.exec(dir ?? '')?.[1] ?? 0);
        h.onSnapshot?.('receive_failed', index, { error: `${(reason as { code?: string }).code ?? 'error'}: ${reason.message}` });
      },
    };
  }

  /** Leader: streams the snapshot of a MsgSnap to its follower and reports how it went. */
  stream(m: Message): void {
    const h = this.host;
    invariant(m.snapshot !== undefined, 'a MsgSnap carries a snapshot');
    if (m.snapshot.data.length === 0 || m.snapshot.metadata.index < h.conf.current.confIndex) {
      // The bootstrap snapshot has no files, and one older than the last membership change
      // carries a configuration the follower may no longer be in as it was (a node removed and
      // added again installed itself as a voter of the old one, without this leader among its
      // peers, and waited for ever): take a fresh one now; the core asks again after the failure
      // report, by when storage holds the new snapshot.
      this.maybeCreate(true);
      queueMicrotask(() => {
        if (!h.halted()) h.reportSnapshot(m.to, false);
      });
      return;
    }
    const index = snapshotIndexOf(m.snapshot.data);
    const address = h.addressOf(m.to);
    this.streaming.set(index, (this.streaming.get(index) ?? 0) + 1);
    const started = performance.now();
    const files = h.snaps.files(index);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const sent = address ? sendSnapshot(address, m, h.snaps.path(index), files, { clusterId: h.clusterId, tls: h.peerTls }) : Promise.reject(new Error(`no address for ${m.to}`));
    sent
      .then(
        () => {
          h.onSnapshot?.('sent', index, { to: m.to, bytes, ms: Math.round(performance.now() - started) });
          return true;
        },
        (err: Error) => {
          h.onSnapshot?.('send_failed', index, { to: m.to, error: err.message });
          return false;
        },
      )
      .then((ok) => {
        const left = (this.streaming.get(index) ?? 1) - 1;
        if (left > 0) this.streaming.set(index, left);
        else this.streaming.delete(index);
        if (!h.halted()) h.reportSnapshot(m.to, ok);
      });
  }

  /**
   * Follower: replaces the state machine and the log with a received snapshot (already sealed
   * on disk by the stream). Bracketed by the install marker; see snapshots.ts.
   */
  async install(snap: Snapshot): Promise<void> {
    const h = this.host;
    const index = snap.metadata.index;
    const started = performance.now();
    this.installing = true;
    try {
      await this.idle();
      await h.applier.idle();
      h.snaps.beginInstall(index);
      h.engine.close();
      h.engine = Engine.openFromCheckpoint(join(h.snaps.path(index), 'engine'), join(h.dataDir, 'engine'), h.engineOptions);
      await h.applier.install(h.engine, index, initialRecord(snap.metadata.confState));
      await h.storage.installSnapshot(snap);
      // The core took the snapshot's configuration; the record in the checkpoint matches it.
      h.conf.reset(h.applier.members, index, snap.metadata.confState);
      this.logBytesSinceSnapshot = 0;
      h.peersChanged();
      h.snaps.endInstall();
      h.onSnapshot?.('installed', index, { ms: Math.round(performance.now() - started) });
    } finally {
      this.installing = false;
    }
    await this.prune();
  }
}
