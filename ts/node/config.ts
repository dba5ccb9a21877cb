/**
 * The node's configuration: every limit and timing with its default, and the callbacks through
 * which the node reports what happens to it (the CLI logs them as JSON lines).
 */
import type { PeerTls } from '../transport/peer_tls';
import type { WalOptions } from '../native';
import type { StateType } from '../raft/types';
import type { PeerAddress } from '../transport/peer';
import type { MemberChange, MembersRecord } from './membership';
import type { SnapshotEvent, SnapshotEventDetail } from './snapshot_lifecycle';
import { type FreeBytes, SPACE_RESERVE_BYTES_DEFAULT, type SpaceEvent } from './space_guard';

export interface RaftNodeConfig {
  id: number;
  dataDir: string;
  /**
   * Peer addresses this node knows locally (this node included): the voters a new cluster is
   * bootstrapped with (`--cluster`), or, with `joining`, the members a joining node fetched.
   * They take precedence over addresses in the replicated membership record.
   */
  members: ReadonlyMap<number, PeerAddress>;
  /**
   * A new node joining an existing cluster: if it holds no state yet it starts with an empty
   * configuration and waits for the leader's snapshot (instead of bootstrapping `members`).
   */
  joining?: boolean;
  /**
   * Joining with no state: the cluster's term when it was added. The node records that it has
   * voted in that term, so it grants no vote in any term up to it — its id may have belonged to
   * a member whose data (and votes) were wiped, and one vote per term must hold across that.
   */
  joinTerm?: number;
  /** Founding members derive the cluster id from their member ids and this (`--cluster-token`, cluster_id.ts). */
  clusterToken?: string;
  tickMs?: number;
  electionTimeoutTicks?: number;
  heartbeatTimeoutTicks?: number;
  /**
   * Lease-based linearizable reads (`--read-lease`, ts/raft/lease.ts): the leader answers a
   * read without a heartbeat round while a quorum acknowledged one recently. Sound while the
   * members' clocks advance at rates within 10% of each other; off, every read takes a round.
   */
  readLease?: boolean;
  /** A request not answered within this is failed with `timeout` (its outcome is unknown). */
  requestTimeoutMs?: number;
  /** Proposals in one MsgProp (one turn). */
  proposalsPerTurnMax?: number;
  /** Proposals accepted and not yet answered; past it writes are refused as `overloaded`. */
  proposalsPendingMax?: number;
  /** Reads accepted and not yet answered; past it reads are refused as `overloaded`. */
  readsPendingMax?: number;
  /**
   * Readies whose WAL write may be in flight at once (pipelined persistence; 1: one at a time).
   * A write issued while the WAL syncs joins the next group; with too few, a Ready waits for a
   * group to finish before its write may even join the one after (measured: 2 in flight gave a
   * 20 ms-fsync stall 60 ms at p50, 8 and 32 gave 54–55 ms, the classic loop 58 ms).
   */
  writesInFlightMax?: number;
  /** Bytes of committed entries queued for the applier before the node stops taking more. */
  applyBacklogBytesMax?: number;
  /** KV changes kept for watchers to resume from (older revisions: 410 compacted). */
  watchHistoryMax?: number;
  /** Keep about this much of the newest stored market data, in venue time (ns; md_retention.ts); undefined: all. */
  mdRetentionNs?: bigint;
  /** Take a snapshot and compact the log once this many entries were applied since the last. */
  snapshotEntries?: number;
  /** ... or once the entries applied since the last snapshot hold this many bytes. */
  snapshotLogBytes?: number;
  /** Entries kept in the log before a snapshot, so slightly lagging followers need no snapshot ... */
  snapshotCatchUpEntries?: number;
  /** ... at most this many bytes of them (the log's tail is held on disk and in memory). */
  snapshotCatchUpBytes?: number;
  /** Most bytes a received snapshot may hold. */
  snapshotBytesMax?: number;
  /** RocksDB memtable size (`--memtable-mib`; see `engine::EngineOptions::write_buffer_bytes`). */
  memtableBytes?: number;
  /**
   * How the WAL writes and syncs a group (`--wal-backend`). pwrite by default: io_uring runs a
   * group's fsync on a kernel worker thread that must be woken and scheduled each time, and on
   * a busy 2-core host that cost more than the system call it saves (the nodes' mean fsync
   * 311–454 against 504–691 µs under wrk PUTs, 4 alternating pairs; bench:storage 1.12–1.64×
   * the appends/s with 1–256 appenders). README: "Backend".
   */
  walBackend?: WalOptions['backend'];
  /**
   * Free bytes below which this member raises the cluster's disk-space alarm and writes that add
   * data are refused (`--space-reserve-mib`; space_guard.ts); 0: never.
   */
  spaceReserveBytes?: number;
  /** How the free space of `dataDir`'s file system is read (statfs; tests simulate a filling disk). */
  freeBytes?: FreeBytes;
  /** This member's free space crossed its reserve, or could not be read. */
  onSpace?: (event: SpaceEvent) => void;
  /** Test-only WAL faults (the chaos suite's disk nemesis); never set in production. */
  walFaults?: Pick<WalOptions, 'failSyncAt' | 'tornWriteAt' | 'allowStall'>;
  onFatal?: (err: Error) => void;
  /** The known leader or this node's role changed. */
  onSoftState?: (leader: number, state: StateType) => void;
  /** A snapshot was taken here (and the log compacted), streamed to a follower (or failed
   *  to), or received and installed. */
  onSnapshot?: (event: SnapshotEvent, index: number, detail?: SnapshotEventDetail) => void;
  /** A membership change was applied here. */
  onMembership?: (change: MemberChange, index: number, members: MembersRecord) => void;
  /** This node was removed from the cluster (it applied its removal, or was told of it). */
  onRemoved?: (index: number) => void;
  /** A peer connection sent bytes that do not decode; it was dropped. */
  onPeerProtocolError?: (err: Error) => void;
  /** Mutual TLS between members (certificates CN=n<id> from one CA); plain TCP without it. */
  peerTls?: PeerTls;
}

export type Callbacks = 'onFatal' | 'onSoftState' | 'onSnapshot' | 'onMembership' | 'onRemoved' | 'onPeerProtocolError' | 'onSpace' | 'freeBytes';
export type ResolvedConfig = Required<Omit<RaftNodeConfig, Callbacks | 'walFaults' | 'joinTerm' | 'peerTls' | 'clusterToken' | 'mdRetentionNs'>> & Pick<RaftNodeConfig, Callbacks | 'peerTls' | 'clusterToken' | 'mdRetentionNs'>;

export const DEFAULTS = {
  tickMs: 10,
  electionTimeoutTicks: 30,
  heartbeatTimeoutTicks: 3,
  readLease: false,
  requestTimeoutMs: 5000,
  proposalsPerTurnMax: 8192,
  proposalsPendingMax: 65536,
  readsPendingMax: 65536,
  writesInFlightMax: 8,
  applyBacklogBytesMax: 64 << 20,
  watchHistoryMax: 100_000,
  snapshotEntries: 10_000,
  snapshotLogBytes: 64 << 20,
  snapshotCatchUpEntries: 1_000,
  snapshotCatchUpBytes: 64 << 20,
  snapshotBytesMax: 64 * 2 ** 30,
  memtableBytes: 8 << 20,
  walBackend: 'pwrite' as const,
  spaceReserveBytes: SPACE_RESERVE_BYTES_DEFAULT,
  joining: false,
};

/** How long a removed node is told of its removal after it last spoke (in election timeouts). */
export const REMOVAL_NOTICE_ELECTIONS = 4;

export interface NodeStatus {
  id: number;
  leader: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  firstLogIndex: number;
  state: StateType;
  learner: boolean;
}

