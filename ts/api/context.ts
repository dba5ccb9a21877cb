import type { DashboardSampler } from '../dashboard/sampler';
import type { NodeBackups } from '../backup/full';
import type { NodeHealth } from '../monitor/node_health';
import type { RaftNode } from '../node/raft_node';
import type { PeerAddress } from '../transport/peer';

/** What every route may use: the node, and this node's client address. */
export interface ApiContext {
  node: RaftNode;
  /** This node's client address (host:port), reported in the member list. */
  client: PeerAddress;
  /** Metrics, the health monitor and admission (throttling). */
  health: NodeHealth;
  /** The dashboard's history and streams; undefined with `--dashboard off`. */
  dashboard?: DashboardSampler;
  /** `--auth on`: every non-public route needs a token (ts/api/auth.ts). */
  authEnabled: boolean;
  /** Full backups to `--backup-target` (ts/backup); undefined in tests that need none. */
  backups?: NodeBackups;
}
