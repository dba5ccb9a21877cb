/**
 * `quorumkv start`: one node. Logs are JSON lines on stdout (`{"event": ...}`), which is also
 * how tests and `dev` learn that the node is up and who leads.
 * SIGTERM/SIGINT: stop accepting requests, hand leadership over (if leading), finish applying,
 * close the WAL and engine, exit 0.
 */
import { startApiServer } from '../api/server';
import { RaftNode } from '../node/raft_node';
import type { PeerAddress } from '../transport/peer';

export interface StartOptions {
  id: number;
  dataDir: string;
  listen: PeerAddress;
  members: Map<number, PeerAddress>;
  snapshotEntries?: number;
  snapshotCatchUpEntries?: number;
}

export function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** `n3` or `3` → 3. Node ids are positive integers; the `n` prefix is for readability. */
export function parseNodeId(raw: string): number {
  const m = /^n?(\d+)$/.exec(raw);
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`node id must look like n1 or 1, got ${JSON.stringify(raw)}`);
  return id;
}

export function parseAddress(raw: string): PeerAddress {
  const at = raw.lastIndexOf(':');
  const port = Number(raw.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address must be host:port, got ${JSON.stringify(raw)}`);
  return { host: raw.slice(0, at), port };
}

/** `n1=127.0.0.1:7101,n2=...` */
export function parseCluster(raw: string): Map<number, PeerAddress> {
  const members = new Map<number, PeerAddress>();
  for (const part of raw.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`cluster member must be id=host:port, got ${JSON.stringify(part)}`);
    members.set(parseNodeId(part.slice(0, eq)), parseAddress(part.slice(eq + 1)));
  }
  if (members.size === 0) throw new Error('--cluster names no members');
  return members;
}

/**
 * Test-only disk faults for the chaos suite, from `QKV_TEST_WAL_FAULTS` (`failSyncAt=N` or
 * `tornWriteAt=N`, counted in WAL groups since this start). Logged loudly when set.
 */
export function walFaultsFromEnv(raw: string | undefined): { failSyncAt?: number; tornWriteAt?: number } {
  if (!raw) return {};
  const faults: { failSyncAt?: number; tornWriteAt?: number } = {};
  for (const part of raw.split(',').filter(Boolean)) {
    const [name, value] = part.split('=');
    const n = Number(value);
    if ((name !== 'failSyncAt' && name !== 'tornWriteAt') || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`QKV_TEST_WAL_FAULTS: expected failSyncAt=N or tornWriteAt=N, got ${JSON.stringify(part)}`);
    }
    faults[name] = n;
  }
  return faults;
}

export async function start(opts: StartOptions): Promise<void> {
  let stopping = false;
  const walFaults = walFaultsFromEnv(process.env.QKV_TEST_WAL_FAULTS);
  if (Object.keys(walFaults).length > 0) log('test_faults', { id: opts.id, walFaults });
  const node = await RaftNode.open({
    id: opts.id,
    dataDir: opts.dataDir,
    members: opts.members,
    walFaults,
    snapshotEntries: opts.snapshotEntries,
    snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
    onSnapshot: (event, index, detail) => log(`snapshot_${event}`, { id: opts.id, index, ...detail }),
    onSoftState: (leader, state) => log('role', { id: opts.id, leader, state }),
    onFatal: (err) => {
      // An fsync or engine failure: stop now, never carry on with unknown durable state.
      log('fatal', { id: opts.id, code: (err as Error & { code?: string }).code, message: err.message });
      process.exit(70);
    },
  });
  const peerPort = await node.start();
  const api = await startApiServer({ node, members: opts.members }, opts.listen.host, opts.listen.port);
  log('ready', { id: opts.id, port: api.port, peerPort, pid: process.pid });
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('stopping', { id: opts.id, signal });
    await api.close();
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
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
