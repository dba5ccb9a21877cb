/**
 * The cluster id: 64 bits naming one cluster for its whole life, kept in `<data>/cluster_id`
 * and said in every peer connection's hello (ts/transport/hello.ts), so members of different
 * clusters refuse each other.
 *
 * Where it comes from (etcd's rules):
 * - founding members (`--cluster`) derive it from the founding members' ids and the cluster
 *   token (`--cluster-token`), so they agree without talking — not from their addresses, which
 *   are each node's own routing and may differ from node to node (proxies, NAT, names); two
 *   clusters with the same member ids need different tokens to be told apart;
 * - a joining node takes the id the cluster told it (`GET /v1/cluster/members`);
 * - a restore writes a new random id into every member it creates, so a restored cluster can
 *   never talk to the one its backup came from, whatever the addresses.
 * Once written the file wins: a data directory never changes cluster.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../errors';
import { checkClusterId } from '../transport/hello';
import type { PeerAddress } from '../transport/peer';
import { fsyncPath } from './snapshots';

export const DEFAULT_CLUSTER_TOKEN = 'quorumkv';
const FILE = 'cluster_id';

export function readClusterId(dataDir: string): string | undefined {
  const path = join(dataDir, FILE);
  if (!existsSync(path)) return undefined;
  const raw = readFileSync(path, 'utf8').trim();
  try {
    return checkClusterId(raw);
  } catch (err) {
    throw new QuorumError('CLUSTER_ID_CORRUPT', `${path}: ${(err as Error).message}`);
  }
}

/** Writes the id durably (temporary file, fsync, rename, fsync of the directory). */
export function writeClusterId(dataDir: string, id: string): void {
  checkClusterId(id);
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, FILE);
  writeFileSync(`${path}.tmp`, `${id}\n`);
  fsyncPath(`${path}.tmp`);
  renameSync(`${path}.tmp`, path);
  fsyncPath(dataDir);
}

/** The founders' id: SHA-256 over the token and the sorted member ids, 64 bits. */
export function derivedClusterId(members: ReadonlyMap<number, PeerAddress>, token = DEFAULT_CLUSTER_TOKEN): string {
  const list = [...members.keys()].sort((a, b) => a - b).map((id) => `n${id}`).join(',');
  return createHash('sha256').update(`quorumkv-cluster\0${token}\0${list}`).digest().subarray(0, 8).toString('hex');
}

export interface ClusterIdSource {
  dataDir: string;
  members: ReadonlyMap<number, PeerAddress>;
  /** The id the cluster gave (a joiner) or a restore chose; must match a stored one. */
  clusterId?: string;
  clusterToken?: string;
  joining?: boolean;
}

/** The node's cluster id: the stored one, else the given one, else the founders'; stored on first use. */
export function resolveClusterId(src: ClusterIdSource): string {
  const stored = readClusterId(src.dataDir);
  if (stored !== undefined) {
    if (src.clusterId !== undefined && src.clusterId !== stored) throw new QuorumError('INVALID_CONFIG', `${src.dataDir} belongs to cluster ${stored}, not ${src.clusterId}`);
    return stored;
  }
  if (src.joining && src.clusterId === undefined) throw new QuorumError('INVALID_CONFIG', `${src.dataDir} has no cluster id: a joining node learns it from the cluster (start it with --join URL and an empty data directory)`);
  const id = src.clusterId ?? derivedClusterId(src.members, src.clusterToken);
  writeClusterId(src.dataDir, id);
  return id;
}
