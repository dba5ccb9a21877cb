import { QuorumError } from '../errors';
import type { Random } from './random';
import type { Storage } from './storage';

/** Everything the core needs, each limit named with its unit. */
export interface Config {
  id: number;
  storage: Storage;
  random: Random;
  /** Followers campaign after a randomized timeout in [electionTimeoutTicks, 2 × electionTimeoutTicks). */
  electionTimeoutTicks: number;
  /** The leader heartbeats every `heartbeatTimeoutTicks`; must be < electionTimeoutTicks. */
  heartbeatTimeoutTicks: number;
  /** Index already applied by the state machine on restart (entries up to it are not re-delivered). */
  applied?: number;
  /** Byte cap per MsgApp. */
  msgBytesMax?: number;
  /** MsgApp in flight per follower before the leader pauses it. */
  inflightMsgsMax?: number;
  /** Bytes in flight per follower (0 = unlimited). */
  inflightBytesMax?: number;
  /** Proposals are dropped once uncommitted entries reach this many bytes (0 = unlimited). */
  uncommittedBytesMax?: number;
  /** Bytes of committed entries handed out per Ready. */
  committedBytesPerReadyMax?: number;
  /** ReadIndex requests waiting for confirmation (or for the leader's first commit). */
  readIndexPendingMax?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /**
   * Lease-based reads (lease.ts): a leader answers ReadIndex without a heartbeat round while a
   * quorum acknowledged one sent less than this many ms ago. 0 (the default): off. Must stay
   * below the followers' election timeout in ms less clock-rate drift; needs checkQuorum.
   */
  leaseReadMs?: number;
  /** The monotonic clock the lease is measured with, ms (tests inject one). */
  nowMs?: () => number;
  /**
   * Grant no vote for an election timeout after start: a restarted voter forgot which leader it
   * heard from, and must not help elect another within a lease it may have acknowledged.
   */
  startupVoteFence?: boolean;
}

export interface ResolvedConfig extends Required<Omit<Config, 'applied'>> {
  applied: number;
}

export function resolveConfig(c: Config): ResolvedConfig {
  if (c.id <= 0) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: id must be a positive integer');
  if (c.heartbeatTimeoutTicks <= 0) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: heartbeatTimeoutTicks must be positive');
  if (c.electionTimeoutTicks <= c.heartbeatTimeoutTicks) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: electionTimeoutTicks must exceed heartbeatTimeoutTicks');
  const resolved: ResolvedConfig = {
    msgBytesMax: 1 << 20,
    inflightMsgsMax: 256,
    inflightBytesMax: 0,
    uncommittedBytesMax: 64 << 20,
    committedBytesPerReadyMax: 8 << 20,
    readIndexPendingMax: 65536,
    preVote: true,
    checkQuorum: true,
    leaseReadMs: 0,
    nowMs: () => performance.now(),
    startupVoteFence: false,
    ...c,
    applied: c.applied ?? 0,
  };
  if (!Number.isFinite(resolved.leaseReadMs) || resolved.leaseReadMs < 0) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: leaseReadMs must be a non-negative number');
  if (resolved.leaseReadMs > 0 && !resolved.checkQuorum) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: lease reads need checkQuorum (followers in lease refuse votes only with it)');
  if (resolved.inflightMsgsMax <= 0) throw new QuorumError('RAFT_CONFIG_INVALID', 'config: inflightMsgsMax must be positive');
  return resolved;
}
