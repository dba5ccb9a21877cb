/**
 * `quorumkv start --join URL`: a new, empty node asks a running cluster to add it (as a learner)
 * and learns where the members are and the cluster's id (ts/node/cluster_id.ts). The data then
 * arrives by snapshot and log. The members' peer addresses are kept in `<data>/peers.json`, the
 * id in `<data>/cluster_id`, so the node restarts without the endpoint;
 * a node that already holds data never joins again.
 */
import { call as callNode, type CallInit, unreachable } from './http_client';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeClusterId } from '../node/cluster_id';
import { CLUSTER_ID_PATTERN } from '../transport/hello';
import { formatPeerAddress, type PeerAddress, parsePeerAddress } from '../transport/peer';

const RETRY_MS_MAX = 2000;
const JOIN_TIMEOUT_MS = 120_000;

interface MemberInfo {
  id: number;
  learner: boolean;
  peer: string | null;
  client: string | null;
}

export function peersFile(dataDir: string): string {
  return join(dataDir, 'peers.json');
}

export function loadPeers(dataDir: string): Map<number, PeerAddress> | undefined {
  const path = peersFile(dataDir);
  if (!existsSync(path)) return undefined;
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  return new Map(Object.entries(doc).map(([id, a]) => [Number(id), parsePeerAddress(a)]));
}

function savePeers(dataDir: string, peers: Map<number, PeerAddress>): void {
  mkdirSync(dataDir, { recursive: true });
  const path = peersFile(dataDir);
  writeFileSync(`${path}.tmp`, JSON.stringify(Object.fromEntries([...peers].map(([id, a]) => [String(id), formatPeerAddress(a)]))));
  renameSync(`${path}.tmp`, path);
}

function clusterIdOf(body: Record<string, unknown>): string {
  const id = body.clusterId;
  if (typeof id !== 'string' || !CLUSTER_ID_PATTERN.test(id)) throw new Error(`the member list names no cluster id (${JSON.stringify(id)}): the cluster runs an older version`);
  return id;
}

/** With the process's --token/--cacert: joining an https cluster with auth on needs both. */
async function call(url: string, init: CallInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await callNode(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface Joined {
  /** Every member's peer address (this node's too). */
  peers: Map<number, PeerAddress>;
  /** The cluster's term once this node was a member (see `RaftNodeConfig.joinTerm`). */
  term: number;
}

/**
 * Adds node `id` (peer `peer`, client `client`) to the cluster behind `endpoint` as a learner,
 * unless it is a member already. Retries while the cluster has no leader or another change is
 * pending.
 */
export async function joinCluster(dataDir: string, endpoint: string, id: number, peer: PeerAddress, client: PeerAddress, log: (event: string, f: Record<string, unknown>) => void): Promise<Joined> {
  const base = endpoint.replace(/\/$/, '');
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  let waitMs = 100;
  // Once we asked to be added, the list names us with the address as the listing node reaches
  // us (its own routing may differ from our --peer-listen): the id check is for before that.
  let asked = false;
  for (;;) {
    let problem: string;
    try {
      const list = await call(`${base}/v1/cluster/members`);
      if (list.status === 200) {
        const members = list.body.members as MemberInfo[];
        const self = members.find((m) => m.id === id);
        if (self && !asked && self.peer !== null && self.peer !== formatPeerAddress(peer)) {
          throw new Error(`n${id} is already a member with peer address ${self.peer}, not ${formatPeerAddress(peer)}`);
        }
        if (self) {
          const peers = new Map<number, PeerAddress>(members.filter((m) => m.peer !== null).map((m) => [m.id, parsePeerAddress(m.peer!)]));
          peers.set(id, peer);
          // The cluster's id first: peers.json marks the join as done (see loadPeers).
          writeClusterId(dataDir, clusterIdOf(list.body));
          savePeers(dataDir, peers);
          const term = Number(list.body.term ?? 0);
          log('joined', { id, endpoint: base, members: members.map((m) => m.id), learner: self.learner, term });
          return { peers, term };
        }
        asked = true;
        const add = await call(`${base}/v1/cluster/members`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, peer: formatPeerAddress(peer), client: formatPeerAddress(client), learner: true }),
        });
        // Added: the next round lists us. 409 member_exists: someone added us meanwhile.
        if (add.status === 201 || add.body.error === undefined) continue;
        const code = (add.body.error as { code?: string }).code;
        if (code === 'member_exists') continue;
        if (add.status < 500 && code !== 'membership_change_pending') throw new Error(`the cluster refused to add n${id}: ${JSON.stringify(add.body.error)}`);
        problem = `add answered ${add.status} ${code}`;
      } else if (list.status === 401 || list.status === 403) {
        throw new Error(`the cluster refused the member list (${list.status}): it runs with --auth on; give an admin token (--token-file)`);
      } else {
        problem = `member list answered ${list.status}`;
      }
    } catch (err) {
      if (!unreachable(err)) throw err;
      problem = `${base} unreachable: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`could not join through ${base} within ${JOIN_TIMEOUT_MS} ms: ${problem}`);
    log('join_retry', { id, reason: problem, inMs: waitMs });
    await new Promise((r) => setTimeout(r, waitMs));
    waitMs = Math.min(waitMs * 2, RETRY_MS_MAX);
  }
}
