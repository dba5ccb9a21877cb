/**
 * `quorumkv start`: one node. Logs are JSON lines on stdout (`{"event": ...}`), which is also
 * how tests and `dev` learn that the node is up and who leads.
 * SIGTERM/SIGINT: stop accepting requests, hand leadership over (if leading), finish applying,
 * close the WAL and engine, exit 0. A node that applies its own removal does the same.
 *
 * `--join URL` (a new node): asks the cluster to add it as a learner, receives the data by
 * snapshot and log, and — unless `--learner` — asks to be promoted to voter once caught up.
 */
import { logEvent } from '../log';
import { lowerPriority } from './priority';
import { startApiServer, type TlsFiles } from '../api/server';
import type { PeerTls } from '../transport/peer_tls';
import { replayProgress } from '../api/md_replay';
import { DashboardSampler } from '../dashboard/sampler';
import type { ApiContext } from '../api/routes';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type FreeBytes, statfsFreeBytes } from '../node/space_guard';
import { RaftNode } from '../node/raft_node';
import { Op } from '../node/commands';
import { bootstrapAdmin } from '../api/auth';
import { NodeBackups } from '../backup/full';
import { openTarget } from '../backup/crypt';
import { RateLimit } from '../backup/rate';
import { LogShipper } from '../backup/log_ship';
import { join } from 'node:path';
import { type HealthConfig, NodeHealth } from '../monitor/node_health';
import { joinCluster, loadPeers } from './join';
import type { PeerAddress } from '../transport/peer';

export interface StartOptions {
  id: number;
  dataDir: string;
  listen: PeerAddress;
  /** Bootstrap voters and their peer addresses (`--cluster`); with `join`, only addresses. */
  members: Map<number, PeerAddress>;
  peerListen: PeerAddress;
  /** With `members`: what a new cluster's id is derived from (`--cluster-token`, see ts/node/cluster_id.ts). */
  clusterToken?: string;
  /** A client endpoint of a running cluster to join (a new node). */
  join?: string;
  /** Joining: stay a learner (do not ask for promotion). */
  learner?: boolean;
  /** CPU priority of the node's threads (`--nice`, 0–19; see priority.ts). */
  nice?: number;
  /** Cleartext HTTP/1.1 on the lean path for common requests, or Node's server for all (`--http1`). */
  http1?: 'lean' | 'node';
  /** Lease-based linearizable reads (`--read-lease`). */
  readLease?: boolean;
  /** `--md-retention`, in venue-time ns (undefined: keep all). */
  mdRetentionNs?: bigint;
  snapshotEntries?: number;
  snapshotLogBytes?: number;
  snapshotCatchUpEntries?: number;
  snapshotCatchUpBytes?: number;
  /** RocksDB memtable size in bytes (`--memtable-mib`). */
  memtableBytes?: number;
  /** Free disk below which this member raises the disk alarm (`--space-reserve-mib`; 0: never). */
  spaceReserveBytes?: number;
  /** The WAL's write + fdatasync path (`--wal-backend`). */
  walBackend?: 'auto' | 'io_uring' | 'pwrite';
  /** Metrics, the health monitor and throttling. */
  health: HealthConfig;
  /** HTTPS for the client API (PEM files, reloaded on SIGHUP). */
  tls?: TlsFiles;
  /** Plaintext on a non-loopback address was allowed by `--insecure`: warn. */
  insecure?: boolean;
  /** Mutual TLS between members. */
  peerTls?: PeerTls;
  /** Every non-public route needs a bearer token. */
  auth?: boolean;
  /** Proposed once the node has a leader, if the cluster never applied an initial admin token. */
  initialAdminToken?: string;
  /** Where full backups go (file:// or s3://), and how often the leader takes one. */
  backupTarget?: string;
  backupFullEveryMs?: number;
  /** A backup's read rate (0: unlimited). */
  backupBytesPerS?: number;
  /** Delete backups older than this after each new one. */
  backupRetentionMs?: number;
  /** The leader ships committed entries this often (0 or unset: no continuous log backup). */
  backupLogEveryMs?: number;
  /** Seal every backup object with the AES-256 key in this file. */
  backupEncryptionKeyFile?: string;
}

export const log = logEvent;

/**
 * Test-only: the free disk a test simulates, from `QKV_TEST_FREE_BYTES_DIR` — the file `n<id>`
 * there holds this node's free bytes (while it is absent, the real statfs answers).
 */
function freeBytesFromEnv(id: number, dir: string | undefined): FreeBytes | undefined {
  if (!dir) return undefined;
  const file = join(dir, `n${id}`);
  return async (dataDir) => (existsSync(file) ? Number((await readFile(file, 'utf8')).trim()) : statfsFreeBytes(dataDir));
}

/**
 * Test-only disk faults for the chaos suite, from `QKV_TEST_WAL_FAULTS` (`failSyncAt=N` or
 * `tornWriteAt=N`, counted in WAL groups since this start; `stall` allows disk stalls through
 * `POST /v1/test/wal-stall`). Logged loudly when set.
 */
export function walFaultsFromEnv(raw: string | undefined): { failSyncAt?: number; tornWriteAt?: number; allowStall?: boolean } {
  if (!raw) return {};
  const faults: { failSyncAt?: number; tornWriteAt?: number; allowStall?: boolean } = {};
  for (const part of raw.split(',').filter(Boolean)) {
    if (part === 'stall') {
      faults.allowStall = true;
      continue;
    }
    const [name, value] = part.split('=');
    const n = Number(value);
    if ((name !== 'failSyncAt' && name !== 'tornWriteAt') || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`QKV_TEST_WAL_FAULTS: expected failSyncAt=N, tornWriteAt=N or stall, got ${JSON.stringify(part)}`);
    }
    faults[name] = n;
  }
  return faults;
}

/** Where the node's peers are: `--cluster`, or what joining learned (kept in peers.json). */
async function addressBook(opts: StartOptions): Promise<{ peers: Map<number, PeerAddress>; joinTerm?: number }> {
  if (!opts.join) return { peers: opts.members };
  let peers = loadPeers(opts.dataDir);
  let joinTerm: number | undefined;
  if (!peers) {
    if (existsSync(`${opts.dataDir}/engine`)) throw new Error(`${opts.dataDir} holds data but no peers.json: start it with --cluster, not --join`);
    ({ peers, term: joinTerm } = await joinCluster(opts.dataDir, opts.join, opts.id, opts.peerListen, opts.listen, log));
  }
  // With --join, a --cluster map only routes: it overrides where members are reached.
  for (const [id, address] of opts.members) peers.set(id, address);
  return { peers, joinTerm };
}

/** Opens the node's storage and core, its events logged as JSON lines. */
function openNode(opts: StartOptions, members: Map<number, PeerAddress>, joinTerm: number | undefined, walFaults: ReturnType<typeof walFaultsFromEnv>, onRemoved: () => void): Promise<RaftNode> {
  return RaftNode.open({
    id: opts.id,
    dataDir: opts.dataDir,
    members,
    clusterToken: opts.clusterToken,
    joining: opts.join !== undefined,
    joinTerm,
    walFaults,
    readLease: opts.readLease,
    mdRetentionNs: opts.mdRetentionNs,
    snapshotEntries: opts.snapshotEntries,
    snapshotLogBytes: opts.snapshotLogBytes,
    snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
    snapshotCatchUpBytes: opts.snapshotCatchUpBytes,
    memtableBytes: opts.memtableBytes,
    walBackend: opts.walBackend,
    peerTls: opts.peerTls,
    spaceReserveBytes: opts.spaceReserveBytes,
    freeBytes: freeBytesFromEnv(opts.id, process.env.QKV_TEST_FREE_BYTES_DIR),
    onSpace: (e) => ('error' in e ? log('space_unreadable', { id: opts.id, message: e.error.message }) : log(e.low ? 'space_low' : 'space_ok', { id: opts.id, ...e })),
    onSnapshot: (event, index, detail) => log(`snapshot_${event}`, { id: opts.id, index, ...detail }),
    onSoftState: (leader, state) => log('role', { id: opts.id, leader, state }),
    onMembership: (change, index, rec) => log('membership', { id: opts.id, index, change: change.type, node: change.nodeId, voters: rec.voters, learners: rec.learners }),
    onRemoved: (index) => {
      log('removed', { id: opts.id, index });
      onRemoved();
    },
    onPeerProtocolError: (err) => log('peer_protocol_error', { id: opts.id, message: err.message }),
    onFatal: (err) => {
      // An fsync or engine failure: stop now, never carry on with unknown durable state.
      log('fatal', { id: opts.id, code: (err as Error & { code?: string }).code, message: err.message });
      process.exit(70);
    },
  });
}

export async function start(opts: StartOptions): Promise<void> {
  let stopping = false;
  // Before the engine and WAL open, so their threads inherit it.
  if (opts.nice) log('nice', { id: opts.id, nice: opts.nice, threads: lowerPriority(opts.nice) });
  const walFaults = walFaultsFromEnv(process.env.QKV_TEST_WAL_FAULTS);
  if (Object.keys(walFaults).length > 0) log('test_faults', { id: opts.id, walFaults });
  const { peers: members, joinTerm } = await addressBook(opts);
  let stop: (signal: string) => Promise<void> = async () => undefined;
  let removed = false;
  const node = await openNode(opts, members, joinTerm, walFaults, () => {
    removed = true;
    void stop('removed');
  });
  const peerPort = await node.start();
  const health = new NodeHealth(node, opts.health);
  const backups = backupsOf(node, health, opts);
  const ctx: ApiContext = { node, client: { ...opts.listen }, health, authEnabled: opts.auth === true, backups };
  if (opts.health.dashboard) ctx.dashboard = new DashboardSampler(node, health, ctx.client, () => replayProgress(node));
  health.tap = ctx.dashboard;
  health.start();
  ctx.dashboard?.start();
  if (opts.insecure) log('warning', { id: opts.id, message: `serving plaintext on ${opts.listen.host} (--insecure): anyone who can reach the port can read and write` });
  const api = await startApiServer(ctx, opts.listen.host, opts.listen.port, opts.tls, opts.http1 ?? 'lean');
  ctx.client.port = api.port;
  log('ready', { id: opts.id, port: api.port, peerPort, pid: process.pid, wal: node.walBackend });
  const promoting = opts.join && !opts.learner ? promoteWhenCaughtUp(node, opts.id) : undefined;
  const publishing = publishWhenMember(node, opts.id, ctx.client);
  const bootstrapping = opts.initialAdminToken === undefined ? undefined : bootstrapAuth(node, opts.id, opts.initialAdminToken);
  stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(promoting);
    clearInterval(publishing);
    clearInterval(bootstrapping);
    backups.close();
    log('stopping', { id: opts.id, signal });
    await api.close();
    health.close();
    ctx.dashboard?.close();
    // A leader hands over first, so clients see a new leader at once instead of waiting out an
    // election timeout. If the handover does not finish in time the cluster elects as usual.
    const to = node.bestTransferee();
    if (to !== undefined) {
      await node.transferLeadership(to).then(
        (term) => log('leader_transferred', { id: opts.id, to, term }),
        (err: Error) => log('leader_transfer_failed', { id: opts.id, to, message: err.message }),
      );
    }
    await node.close();
    log('stopped', { id: opts.id });
    process.exit(0);
  };
  // Removed while replaying the log at start, before `stop` existed.
  if (removed) void stop('removed');
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // New certificates for new connections, without dropping the node (a bad file keeps the old ones).
  process.on('SIGHUP', () => {
    try {
      api.reloadTls();
      log('tls_reloaded', { id: opts.id });
    } catch (err) {
      log('tls_reload_failed', { id: opts.id, message: (err as Error).message });
    }
  });
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The node's backups: target, rate, retention, schedule and metrics as the options say. */
function backupsOf(node: RaftNode, health: NodeHealth, opts: StartOptions): NodeBackups {
  const store = opts.backupTarget === undefined ? undefined : openTarget(opts.backupTarget, opts.backupEncryptionKeyFile);
  const backups = new NodeBackups(node, store, join(opts.dataDir, 'backup-tmp'), new RateLimit(opts.backupBytesPerS ?? 0), opts.backupRetentionMs);
  if (opts.backupFullEveryMs !== undefined) {
    backups.schedule(opts.backupFullEveryMs, (report, err) => (err ? log('backup_failed', { id: opts.id, message: err.message }) : log('backup_created', { id: opts.id, ...report })));
  }
  if (store && (opts.backupLogEveryMs ?? 0) > 0) {
    const shipper = new LogShipper(node, store, opts.backupLogEveryMs!, () => backups.full(), (event, fields) => log(event, { id: opts.id, ...fields }));
    backups.shipLog(shipper);
    shipper.start();
  }
  if (store) health.metrics?.trackBackups(() => backups.metricsView());
  return backups;
}

/** Samples of the lag a learner must be within (entries) before it asks to become a voter. */
const PROMOTE_LAG_ENTRIES_MAX = 100;
const PROMOTE_CHECK_MS = 200;

/**
 * A joined learner asks for promotion once it has a snapshot-or-better and follows the
 * leader's commit closely, so the cluster never waits on an empty voter.
 */
function promoteWhenCaughtUp(node: RaftNode, id: number): NodeJS.Timeout {
  let promoted = false;
  return repeatUntilDone(PROMOTE_CHECK_MS, () => {
    if (promoted) return 'done';
    const st = node.status();
    // Not a learner (yet): a snapshot from before this node was (re-)added may still name it a
    // voter until the log catches up, so keep watching until a promotion succeeded.
    if (!st.learner || st.leader === 0 || st.appliedIndex === 0 || st.commitIndex - st.appliedIndex > PROMOTE_LAG_ENTRIES_MAX) return 'wait';
    return node.changeMembership('promote', id).then(
      () => {
        log('promoted', { id });
        promoted = true;
      },
      (err: Error & { code?: string }) => log('promote_retry', { id, code: err.code, message: err.message }),
    );
  });
}

/**
 * Runs `attempt` every `everyMs` until it answers 'done': one attempt in flight at a time (a
 * promise it returns must settle first), 'wait' skips a turn. Unref'd: it never keeps the
 * process alive.
 */
function repeatUntilDone(everyMs: number, attempt: () => 'done' | 'wait' | Promise<unknown>): NodeJS.Timeout {
  let asking = false;
  const timer = setInterval(() => {
    if (asking) return;
    const step = attempt();
    if (step === 'done') clearInterval(timer);
    else if (step !== 'wait') {
      asking = true;
      void step.finally(() => (asking = false));
    }
  }, everyMs);
  timer.unref();
  return timer;
}

const AUTH_BOOTSTRAP_CHECK_MS = 200;

/**
 * Until the cluster has applied an initial admin token (once in its life), a node given one
 * proposes it as soon as it knows a leader; whichever proposal applies first wins, the others
 * are refused as `auth_bootstrapped` (so a revoked initial token never comes back).
 */
function bootstrapAuth(node: RaftNode, id: number, token: string): NodeJS.Timeout {
  return repeatUntilDone(AUTH_BOOTSTRAP_CHECK_MS, () => {
    if (node.auth.initialized) return 'done';
    if (node.status().leader === 0) return 'wait';
    return bootstrapAdmin(node, token).then(
      (outcome) => log('auth_bootstrap', { id, outcome }),
      (err: Error & { code?: string }) => log('auth_bootstrap_retry', { id, code: err.code, message: err.message }),
    );
  });
}

const PUBLISH_CHECK_MS = 500;

/**
 * Once this node is a member with a known leader, it records its client address in the
 * membership record unless it is already there (so `member list` shows every endpoint, also of
 * the founding members, whose --cluster entries name only peer addresses).
 */
function publishWhenMember(node: RaftNode, id: number, client: PeerAddress): NodeJS.Timeout {
  const address = `${client.host}:${client.port}`;
  return repeatUntilDone(PUBLISH_CHECK_MS, () => {
    const rec = node.members();
    const member = rec.voters.includes(id) || rec.learners.includes(id);
    if (!member || node.status().leader === 0) return 'wait';
    if (rec.addresses[String(id)]?.client === address) return 'done';
    // Op.Publish: "<id> <host:port>", applied into the membership record.
    return node.propose({ op: Op.Publish, key: `${id} ${address}` }).then(
      () => log('published', { id, client: address }),
      (err: Error & { code?: string }) => log('publish_retry', { id, code: err.code, message: err.message }),
    );
  });
}
