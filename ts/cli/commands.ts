/**
 * The `quorumkv` command table (commander): every command with its flags, defaults and help.
 * Numeric and address flags are parsed here (`flags.ts`), so a bad value fails the command
 * with the flag named and exit status 1, before anything runs or is sent.
 */
import { REPLAY_NICE } from './priority';
import { Command, Option } from 'commander';
import { clientCommand, endpointOption, keyPath, send } from './client';
import { clusterStatus } from './status';
import { deletePrefix } from './del_prefix';
import { countKeys, rangeQuery, scanAll, type ScanAllOptions } from './scan_all';
import { type LockCliOptions, lockCommand } from './lock';
import { authCommands, connectionFlags } from './auth';
import { dev } from './dev';
import { monitorCommand } from './monitor';
import { generateCommand, ingestCommand } from './md';
import { mdReadCommands } from './md_reads';
import { type ReplayCliOptions, replayCommand } from './replay';
import { type WatchCliOptions, watchCommand } from './watch';
import * as flags from './flags';
import { addHealthFlags, healthConfig, type HealthFlags } from './health_flags';
import { certsCommands } from './certs';
import { loadPeerTls, type PeerTls } from '../transport/peer_tls';
import { createSecureContext } from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTokenText } from '../auth/model';
import { openTarget } from '../backup/crypt';
import { backupCommands } from './backup';
import { maintenanceCommands } from './maintenance';
import type { HealthConfig } from '../monitor/health_config';

/** `incr KEY`, `expire KEY --ttl`, `persist KEY`: PATCH /v1/kv/{key}, retried safely like every key write. */
function patchCommands(program: Command): void {
  clientCommand(program, 'incr <key>', 'add to an integer value (absent: 0), counted once even if retried', ([key], o) => ({
    method: 'PATCH',
    path: keyPath(key),
    body: { op: 'incr', by: o.by as number, ...(o.ttl === undefined ? {} : { ttlMs: o.ttl as number }) },
  }))
    .option('--by <n>', 'the step (may be negative)', flags.integer(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), 1)
    .option('--ttl <duration>', 'if this creates the key, delete it this long after (a rate window, e.g. 60s)', flags.durationMs);
  clientCommand(program, 'expire <key>', 'give an existing key a TTL from now, its value untouched (a heartbeat)', ([key], o) => ({
    method: 'PATCH',
    path: keyPath(key),
    body: { op: 'expire', ttlMs: o.ttl as number },
  })).requiredOption('--ttl <duration>', 'delete the key this long from now unless written first (e.g. 30s)', flags.durationMs);
  clientCommand(program, 'persist <key>', "end a key's TTL", ([key]) => ({ method: 'PATCH', path: keyPath(key), body: { op: 'persist' } }));
}

function kvCommands(program: Command): void {
  clientCommand(program, 'get <key>', 'read a key (linearizable unless --stale)', ([key], o) => ({ path: keyPath(key), query: { consistency: o.stale ? 'stale' : undefined, ttl: o.ttl ? 'true' : undefined } }))
    .option('--stale', 'serve from this member without a ReadIndex round')
    .option('--ttl', 'with the time its TTL ends (expiresAtMs, ms since the epoch; null: none)');
  // The value goes as written (flags.jsonText): numbers past a double stay exact.
  clientCommand(program, 'put <key> <json>', 'write a JSON value', ([key, value], o) => ({
    method: 'PUT',
    path: keyPath(key),
    query: { ifRevision: o.ifRevision as number | undefined },
    bodyText: `{"value":${flags.jsonText(value)}${o.ttl === undefined ? '' : `,"ttlMs":${o.ttl as number}`}}`,
  }))
    .option('--if-revision <n>', 'only if the key is at revision n (0: only if absent)', flags.integer(0))
    .option('--ttl <duration>', 'delete the key this long after the write unless written again (e.g. 30s, 5m)', flags.durationMs);
  program
    .command('del <key>')
    .description('delete a key; with --prefix, every key starting with it')
    .addOption(endpointOption())
    .option('--if-revision <n>', 'only if the key is at revision n', flags.integer(0))
    .option('--prefix', 'delete every key starting with <key> (in parts of 1,000 keys, each atomic)')
    .action(async (key: string, o: { endpoint: string[]; ifRevision?: number; prefix?: boolean }, cmd: Command) => {
      if (o.prefix && o.ifRevision !== undefined) cmd.error('error: --if-revision names one key: not with --prefix');
      process.exitCode = o.prefix ? await deletePrefix(o.endpoint, key) : await send(o.endpoint, { method: 'DELETE', path: keyPath(key), query: { ifRevision: o.ifRevision } });
    });
  program
    .command('scan')
    .description('list keys in order, a page at a time; with --all, every key, one JSON line each')
    .addOption(endpointOption())
    .option('--prefix <p>', 'only keys starting with p')
    .option('--start <key>', 'only keys at or after this one (with --end: the range [start, end))')
    .option('--end <key>', 'only keys before this one')
    .option('--after <key>', 'start after this key (the last key of the previous page)')
    .option('--limit <n>', 'keys per page (1..1000)', flags.integer(1, 1000), 100)
    .option('--reverse', 'in descending key order')
    .option('--keys-only', 'keys and revisions, without values')
    .option('--count', 'how many keys the range holds (counted in parts of 10M)')
    .option('--all', 'every page (each a read of its own), one key per line')
    .option('--stale', 'serve from this member without a ReadIndex round')
    .action(async (o: ScanAllOptions & { endpoint: string[]; all?: boolean; count?: boolean }) => {
      if (o.count) return void (process.exitCode = await countKeys(o.endpoint, o));
      process.exitCode = o.all ? await scanAll(o.endpoint, o) : await send(o.endpoint, { path: '/v1/kv', query: { ...rangeQuery(o), after: o.after, limit: o.limit } });
    });
  clientCommand(program, 'txn <json>', 'compare-and-swap transaction: {"compare":[...],"success":[...],"failure":[...]}', ([body]) => ({ method: 'POST', path: '/v1/txn', bodyText: flags.jsonText(body) }));
  program
    .command('lock <key> [command...]')
    .description('run a command while holding the lock on key (one holder at a time); without one, hold it until Ctrl-C')
    .addOption(endpointOption())
    .addOption(new Option('--ttl <duration>', 'how long the lock outlives this process if it dies (renewed every third of it)').argParser(flags.durationMs).default(10_000, '10s'))
    .action(async (key: string, command: string[], o: LockCliOptions) => {
      process.exitCode = await lockCommand(key, command, o);
    });
  program
    .command('status')
    .description('the node\'s view of the cluster; with --cluster, every member\'s own')
    .addOption(endpointOption())
    .option('--cluster', 'ask every member for its own view (exit 1 when one does not answer)')
    .action(async (o: { endpoint: string[]; cluster?: boolean }) => {
      process.exitCode = o.cluster ? await clusterStatus(o.endpoint) : await send(o.endpoint, { path: '/v1/cluster' });
    });
  program
    .command('watch')
    .argument('[prefix]', 'only keys starting with prefix (default: every key)')
    .description('print KV changes as they apply, one JSON line each, until Ctrl-C (follows the cluster across node failures)')
    .addOption(endpointOption())
    .option('--key <key>', 'only this key (not the keys it begins)')
    .option('--start <key>', 'only keys at or after this one (with --end: the range [start, end))')
    .option('--end <key>', 'only keys before this one')
    .option('--types <list>', 'only these changes: put, delete or put,delete')
    .option('--from-revision <n>', 'start at revision n (the node must still retain it), not now', flags.integer(1))
    .action(async (prefix: string | undefined, o: WatchCliOptions) => {
      process.exitCode = await watchCommand(prefix, o);
    });
  program
    .command('monitor')
    .description('the health monitor: signals (baseline, z, state), throttle limits, recent anomalies')
    .addOption(endpointOption())
    .option('--watch', 'redraw until Ctrl-C')
    .option('--interval-ms <n>', 'with --watch: redraw every n ms', flags.integer(100, 60_000), 1000)
    .action((o: { endpoint: string[]; watch?: boolean; intervalMs: number }) => monitorCommand(o));
}

function clusterCommands(program: Command): void {
  const leader = program.command('leader').description('leadership');
  clientCommand(leader, 'transfer <id>', 'hand leadership to member ID (e.g. n2)', ([id]) => ({ method: 'POST', path: '/v1/cluster/leader', body: { id: `n${flags.nodeId(id)}` } }));
  const member = program.command('member').description('cluster membership');
  clientCommand(member, 'list', 'the members, their roles and addresses', (_a, o) => ({ path: '/v1/cluster/members', query: { consistency: o.stale ? 'stale' : undefined } }))
    .option('--stale', 'serve from this member without a ReadIndex round');
  clientCommand(member, 'add <id>', 'add a voter (or a learner); start it with --join', ([id], o) => ({
    method: 'POST',
    path: '/v1/cluster/members',
    body: { id: `n${flags.nodeId(id)}`, peer: o.peer, client: o.client, learner: o.learner === true },
  }))
    .requiredOption('--peer <host:port>', 'the new node\'s --peer-listen')
    .option('--client <host:port>', 'the new node\'s --listen')
    .option('--learner', 'add it as a learner (no vote)');
  clientCommand(member, 'promote <id>', 'make a learner a voter', ([id]) => ({ method: 'POST', path: `/v1/cluster/members/n${flags.nodeId(id)}/promote` }));
  clientCommand(member, 'remove <id>', 'remove a member (a removed node stops itself)', ([id]) => ({ method: 'DELETE', path: `/v1/cluster/members/n${flags.nodeId(id)}` }));
}

function mdCommands(program: Command): void {
  const md = program.command('md').description('market data');
  md.command('generate')
    .description('seeded synthetic market data as NDJSON (random-walk mids, Poisson arrivals, a flash crash)')
    .option('--instruments <n>', 'instruments', flags.integer(1, 10_000), 50)
    .option('--minutes <n>', 'minutes of venue time', flags.integer(1, 24 * 60), 30)
    .option('--seed <n>', 'the seed (the same seed gives the same data)', flags.integer(0, 2 ** 32 - 1), 1)
    .option('--rate <n>', 'events per second outside bursts', flags.integer(1, 10_000_000), 2000)
    .option('--gaps <p>', 'probability of a venueSeq gap per event', flags.probability, 0)
    .option('--duplicates <p>', 'probability of a duplicated line per event', flags.probability, 0)
    .option('--out <file>', 'write to a file instead of stdout')
    .addOption(new Option('--format <format>', 'ndjson lines, or binary frames (len u32 + a binary batch)').choices(['ndjson', 'binary']).default('ndjson'))
    .option('--batch <n>', 'events per binary frame', flags.integer(1, 65_535), 1000)
    .action((o: { instruments: number; minutes: number; seed: number; rate: number; gaps: number; duplicates: number; out?: string; format: 'ndjson' | 'binary'; batch: number }) =>
      generateCommand({ instruments: o.instruments, minutes: o.minutes, seed: o.seed, eventsPerSecond: o.rate, gapRate: o.gaps, duplicateRate: o.duplicates, out: o.out, format: o.format, batch: o.batch }),
    );
  md.command('ingest <file>')
    .description('push an NDJSON file in batches (retried until acknowledged: exactly-once per producer)')
    .addOption(endpointOption())
    .addOption(new Option('--format <format>', 'the file holds ndjson lines, or binary frames (from md generate --format binary)').choices(['ndjson', 'binary']).default('ndjson'))
    .option('--batch <n>', 'events per request (ndjson; a binary frame is one request)', flags.integer(1, 65_535), 1000)
    .option('--retry-ms <n>', 'give up on a batch after this long', flags.integer(1), 60_000)
    .action((file: string, o: { endpoint: string[]; format: 'ndjson' | 'binary'; batch: number; retryMs: number }) => ingestCommand({ file, format: o.format, endpoints: o.endpoint, batch: o.batch, retryMs: o.retryMs }));
  md.command('replay')
    .description('replay stored market data (events in venue-time order, book snapshots) from a learner first, the leader last')
    .addOption(endpointOption())
    .requiredOption('--instruments <list>', 'instruments, comma-separated', flags.list)
    .option('--kinds <list>', 'delta,trade,quote,book (default: all)', flags.list)
    .option('--from <time>', 'venue time to start at: integer ns or ISO-8601')
    .option('--to <time>', 'venue time to stop before (exclusive)')
    .option('--speed <x>', 'a multiple of real time, or max', flags.speed, 'max' as const)
    .option('--depth <n>', 'book levels per side in snapshots', flags.integer(1, 1000), 10)
    .option('--snapshot-every <duration>', 'book snapshots every duration of venue time (e.g. 1s) instead of after each change')
    .addOption(new Option('--format <format>', 'ndjson lines, or binary frames (type u8 | len u32 | payload)').choices(['ndjson', 'binary']).default('ndjson'))
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--from-seq <seq>', 'resume after this seq (the last event line a broken replay wrote)', flags.seq)
    .action((o: Omit<ReplayCliOptions, 'instruments' | 'kinds'> & { instruments: string[]; kinds?: string[] }) => replayCommand(o));
  clientCommand(md, 'purge', "drop stored events and book checkpoints before a venue time (each instrument's, to its newest checkpoint before it; admin)", (_a, o) => ({
    method: 'DELETE',
    path: '/v1/md/history',
    query: { before: o.before as string },
  })).requiredOption('--before <time>', 'venue time: integer ns or ISO-8601');
  mdReadCommands(md);
}

function nodeCommands(program: Command): void {
  program
    .command('dev')
    .description('a local cluster: client ports PORT.., peer ports PORT+100..; Ctrl-C stops all')
    .option('--nodes <n>', 'nodes (1..9)', flags.integer(1, 9), 3)
    .option('--data <dir>', 'data directory (one subdirectory per node)', './data')
    .option('--port <port>', 'the first client port', flags.integer(1, 65000), 7001)
    .action(async (o: { nodes: number; data: string; port: number }) => dev({ nodes: o.nodes, dataDir: o.data, port: o.port }));
  const startCmd = program
    .command('start')
    .description('run one node (JSON log lines on stdout; SIGTERM stops it cleanly)')
    .requiredOption('--id <id>', 'this node\'s id (n1 or 1)', flags.nodeId)
    .requiredOption('--data <dir>', 'data directory')
    .requiredOption('--listen <host:port>', 'client API address (HTTP/1.1 and h2c)', flags.address)
    .requiredOption('--peer-listen <host:port>', 'peer address (must match this node\'s --cluster entry)', flags.address)
    .option('--cluster <members>', 'the voters a new cluster starts with: n1=H:P,n2=H:P,... (with --join: only where members are reached)', flags.cluster)
    .option('--cluster-token <token>', 'a new cluster\u2019s id is derived from the --cluster member ids and this token; give clusters with the same member ids different tokens (etcd\u2019s --initial-cluster-token)', 'quorumkv')
    .option('--join <url>', 'join a running cluster through any member\'s client URL (as a learner, promoted once caught up)', flags.endpoint)
    .option('--learner', 'with --join: stay a learner')
    .addOption(new Option('--role <role>', 'replay: with --join, a learner of the replay cluster (serves replays off the leader)').choices(['voter', 'replay']).default('voter'))
    .option('--nice <n>', `CPU priority of the node's threads, 0-19 (default ${REPLAY_NICE} with --role replay, else 0): replays yield the cores to voters sharing the host`, flags.integer(0, 19))
    .addOption(new Option('--http1 <lean|node>', 'HTTP/1.1: lean serves the common requests on a minimal parser (the rest go to Node\u2019s server on the same connection); node: Node\u2019s server for all').choices(['lean', 'node']).default('lean'))
    .addOption(new Option('--read-lease <on|off>', 'linearizable reads from the leader\u2019s lease, without a heartbeat round each (sound while the members\u2019 clocks run within 10% of each other\u2019s rate)').argParser(flags.onOff).default(false, 'off'))
    .option('--md-retention <duration>', 'keep about this much of the newest stored market data, in venue time (e.g. 30d); older history is purged (default: all kept)', flags.durationMs)
    .option('--snapshot-entries <n>', 'snapshot after this many applied entries', flags.integer(1), 10_000)
    .option('--snapshot-bytes <n>', '... or after this many bytes of applied entries', flags.integer(1), 64 << 20)
    .option('--snapshot-catchup <n>', 'entries kept in the log after a snapshot for slightly lagging followers', flags.integer(0), 1_000)
    .option('--snapshot-catchup-bytes <n>', '... at most this many bytes of them', flags.integer(0), 64 << 20)
    .addOption(new Option('--wal-backend <pwrite|io_uring|auto>', 'how the WAL writes and fdatasyncs a group: pwrite + fdatasync on its I/O thread, io_uring (a linked write + fsync, run by a kernel worker), or auto (io_uring where the kernel allows it)').choices(['pwrite', 'io_uring', 'auto']).default('pwrite'))
    .option('--space-reserve-mib <n>', 'free disk (MiB) below which this member raises the cluster\u2019s disk alarm: writes that add data are refused (507 no_space; reads and deletes go on) until it has 1.25\u00d7 that free (0: never)', flags.integer(0), 512)
    .option('--memtable-mib <n>', 'RocksDB memtable size in MiB (up to 4 are kept): larger flushes less often, smaller keeps each write\u2019s memtable insert in the CPU caches', flags.integer(1, 1024), 8)
    .option('--cert <file>', 'TLS certificate (PEM) for the client API: HTTPS, h2 and http/1.1 by ALPN; reloaded on SIGHUP')
    .option('--key <file>', 'TLS private key (PEM) for --cert')
    .option('--client-ca <file>', 'with --cert: clients must present a certificate signed by this CA (PEM)')
    .option('--insecure', 'allow plaintext on a non-loopback --listen address (printed as a warning)')
    .option('--peer-cert <file>', 'mutual TLS between members: this node\u2019s certificate (PEM, CN=n<id>)')
    .option('--peer-key <file>', 'the private key for --peer-cert')
    .option('--peer-ca <file>', 'the CA every member\u2019s --peer-cert is signed by')
    .addOption(new Option('--auth <on|off>', 'require a bearer token on every request but /health, /metrics and the dashboard page (default: on unless --listen is a loopback address)').choices(['on', 'off']))
    .option('--initial-admin-token-file <file>', 'a new cluster\u2019s first admin token (one line; e.g. from `quorumkv auth new-token`), applied once')
    .option('--backup-target <url>', 'where full backups go: file:///path or s3://bucket/prefix (S3 credentials from the AWS environment)')
    .option('--backup-rate-mib <n>', 'a backup reads (hashes, uploads) at most n MiB/s, sparing foreground requests (0: unlimited)', flags.integer(0), 16)
    .option('--backup-encryption-key-file <file>', 'encrypt every backup object with AES-256-GCM under this key (64 hex digits or base64; e.g. openssl rand -hex 32)')
    .option('--backup-retention <duration>', 'with --backup-target: after each backup, delete backups older than this (never the newest) and the objects nothing else references', flags.durationMs)
    .option('--backup-full-every <duration>', 'with --backup-target: the leader takes a full backup this often (e.g. 6h)', flags.durationMs)
    .option('--backup-log-every <duration>', 'with --backup-target: the leader ships committed log entries this often (continuous backup, point-in-time restore; "off" disables)', durationOrOff, 1000)
    .option('--config <file>', 'start options from a YAML or TOML file (keys are these flags without dashes); command-line flags win');
  addHealthFlags(startCmd).action(startAction);
}

interface StartFlags extends HealthFlags {
  id: number;
  data: string;
  listen: ReturnType<typeof flags.address>;
  peerListen: ReturnType<typeof flags.address>;
  cluster?: ReturnType<typeof flags.cluster>;
  clusterToken: string;
  join?: string;
  learner?: boolean;
  role: 'voter' | 'replay';
  nice?: number;
  readLease: boolean;
  http1: 'lean' | 'node';
  mdRetention?: number;
  snapshotEntries: number;
  snapshotBytes: number;
  snapshotCatchup: number;
  snapshotCatchupBytes: number;
  memtableMib: number;
  spaceReserveMib: number;
  walBackend: 'auto' | 'io_uring' | 'pwrite';
  cert?: string;
  key?: string;
  clientCa?: string;
  insecure?: boolean;
  peerCert?: string;
  peerKey?: string;
  peerCa?: string;
  auth?: 'on' | 'off';
  initialAdminTokenFile?: string;
  backupTarget?: string;
  backupFullEvery?: number;
  backupRateMib: number;
  backupRetention?: number;
  backupLogEvery: number;
  backupEncryptionKeyFile?: string;
}

async function startAction(o: StartFlags, cmd: Command): Promise<void> {
  if (!o.cluster && !o.join) cmd.error('error: start needs --cluster (a new cluster) or --join URL (a new node of a running one)');
  if ((o.learner || o.role === 'replay') && !o.join) cmd.error('error: --learner and --role replay go with --join');
  const members = o.cluster ?? new Map([[o.id, o.peerListen]]);
  const self = members.get(o.id);
  if (!self || self.host !== o.peerListen.host || self.port !== o.peerListen.port) cmd.error(`error: --peer-listen must match n${o.id}'s entry in --cluster`);
  const peerTls = tlsOptions(o, cmd);
  const { auth, initialAdminToken } = authOptions(o, cmd);
  checkBackupOptions(o, cmd);
  // The server (its HTTP stack, Raft, metrics) loads here, not with the CLI: every other command
  // would pay for it (~35 ms of the ~115 that loading the commands took).
  const { start, walFaultsFromEnv } = await import('./start');
  let health: HealthConfig | undefined;
  try {
    health = healthConfig(o, walFaultsFromEnv(process.env.QKV_TEST_WAL_FAULTS).allowStall === true);
  } catch (err) {
    cmd.error(`error: ${(err as Error).message}`);
  }
  await start({
    health: health!,
    id: o.id,
    dataDir: o.data,
    listen: o.listen,
    members,
    peerListen: o.peerListen,
    clusterToken: o.clusterToken,
    join: o.join,
    learner: o.learner === true || o.role === 'replay',
    nice: o.nice ?? (o.role === 'replay' ? REPLAY_NICE : 0),
    readLease: o.readLease,
    http1: o.http1,
    mdRetentionNs: o.mdRetention === undefined ? undefined : BigInt(o.mdRetention) * 1_000_000n,
    snapshotEntries: o.snapshotEntries,
    snapshotLogBytes: o.snapshotBytes,
    snapshotCatchUpEntries: o.snapshotCatchup,
    snapshotCatchUpBytes: o.snapshotCatchupBytes,
    memtableBytes: o.memtableMib * 2 ** 20,
    spaceReserveBytes: o.spaceReserveMib * 2 ** 20,
    walBackend: o.walBackend,
    tls: o.cert === undefined || o.key === undefined ? undefined : { cert: o.cert, key: o.key, clientCa: o.clientCa },
    insecure: o.insecure === true && o.cert === undefined && !isLoopback(o.listen.host),
    peerTls,
    auth,
    initialAdminToken,
    backupTarget: o.backupTarget,
    backupFullEveryMs: o.backupFullEvery,
    backupBytesPerS: o.backupRateMib * 2 ** 20,
    backupRetentionMs: o.backupRetention,
    backupLogEveryMs: o.backupLogEvery,
    backupEncryptionKeyFile: o.backupEncryptionKeyFile,
  });
}

/**
 * The client TLS flags (loaded once here, so a bad file fails the command and not a running
 * node) and the peer TLS files, which go together; plaintext off loopback needs --insecure.
 */
function tlsOptions(o: StartFlags, cmd: Command): PeerTls | undefined {
  if ((o.cert === undefined) !== (o.key === undefined)) cmd.error('error: --cert and --key go together');
  if (o.clientCa !== undefined && o.cert === undefined) cmd.error('error: --client-ca needs --cert and --key');
  if (o.cert !== undefined && o.key !== undefined) {
    try {
      createSecureContext({ cert: readFileSync(o.cert), key: readFileSync(o.key), ca: o.clientCa === undefined ? undefined : readFileSync(o.clientCa) });
    } catch (err) {
      cmd.error(`error: the TLS files do not load: ${(err as Error).message}`);
    }
  }
  if (o.cert === undefined && !isLoopback(o.listen.host) && !o.insecure) {
    cmd.error(`error: refusing to serve plaintext on ${o.listen.host} (not a loopback address): give --cert and --key, or --insecure`);
  }
  const peerFiles = [o.peerCert, o.peerKey, o.peerCa].filter((f) => f !== undefined).length;
  if (peerFiles !== 0 && peerFiles !== 3) cmd.error('error: --peer-cert, --peer-key and --peer-ca go together');
  if (peerFiles !== 3) return undefined;
  try {
    const peerTls = loadPeerTls({ cert: o.peerCert!, key: o.peerKey!, ca: o.peerCa! });
    createSecureContext(peerTls);
    return peerTls;
  } catch (err) {
    cmd.error(`error: the peer TLS files do not load: ${(err as Error).message}`);
  }
}

/** `--auth` (default: on unless --listen is loopback) and the first admin token, checked. */
function authOptions(o: StartFlags, cmd: Command): { auth: boolean; initialAdminToken?: string } {
  const auth = (o.auth ?? (isLoopback(o.listen.host) ? 'off' : 'on')) === 'on';
  let initialAdminToken: string | undefined;
  try {
    initialAdminToken = o.initialAdminTokenFile === undefined ? undefined : checkTokenText(readFileSync(o.initialAdminTokenFile, 'utf8'), `the token in ${o.initialAdminTokenFile}`);
  } catch (err) {
    cmd.error(`error: --initial-admin-token-file: ${(err as Error).message}`);
  }
  // Without a first admin token nobody could ever be let in: a new cluster's node needs one.
  if (auth && !initialAdminToken && !o.join && !existsSync(join(o.data, 'engine'))) {
    cmd.error('error: --auth on: a new cluster needs --initial-admin-token-file (or --auth off)');
  }
  return { auth, initialAdminToken };
}

/** A duration, or "off" (0). */
function durationOrOff(raw: string): number {
  return raw.trim() === 'off' ? 0 : flags.durationMs(raw);
}

function checkBackupOptions(o: StartFlags, cmd: Command): void {
  if ((o.backupFullEvery ?? o.backupRetention) !== undefined && o.backupTarget === undefined) cmd.error('error: --backup-full-every and --backup-retention need --backup-target');
  if (o.backupEncryptionKeyFile !== undefined && o.backupTarget === undefined) cmd.error('error: --backup-encryption-key-file needs --backup-target');
  if (o.backupTarget === undefined) return;
  try {
    // A key that cannot be read stops the node here: never back up in plaintext instead.
    openTarget(o.backupTarget, o.backupEncryptionKeyFile);
  } catch (err) {
    cmd.error(`error: --backup-target: ${(err as Error).message}`);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function buildProgram(version: string): Command {
  const program = new Command('quorumkv')
    .description('a Raft-replicated, linearizable key-value store')
    .version(version, '-V, --version')
    .showHelpAfterError('(see quorumkv help COMMAND)');
  program
    .command('version')
    .description('print the version')
    .action(() => console.log(version));
  nodeCommands(program);
  kvCommands(program);
  patchCommands(program);
  clusterCommands(program);
  mdCommands(program);
  certsCommands(program);
  authCommands(program);
  backupCommands(program);
  maintenanceCommands(program);
  connectionFlags(program);
  return program;
}
