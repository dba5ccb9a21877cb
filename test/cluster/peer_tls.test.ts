/**
 * Mutual TLS between members: a cluster whose peer traffic runs over TLS replicates as usual;
 * a certificate from another CA is refused at the handshake, plain TCP too, and a member
 * certificate whose hello or messages claim another member is dropped — none of them moves
 * the term or gets anything applied.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { MessageType } from '../../ts/raft/types';
import { encodeFrame } from '../../ts/transport/codec';
import { encodeHello } from '../../ts/transport/hello';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

function certs(dir: string, ...names: string[]): void {
  for (const args of [['init'], ...names.map((n) => ['issue', n])]) {
    const r = spawnSync(process.execPath, ['--import=tsx', MAIN, 'certs', ...args, '--dir', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`certs ${args.join(' ')}: ${r.stderr}`);
  }
}

const peerPort = (p: Proc) => Number(p.args[p.args.indexOf('--peer-listen') + 1].split(':')[1]);
const protocolErrors = (p: Proc) => p.events.filter((e) => e.event === 'peer_protocol_error').map((e) => String(e.message));

/**
 * Connects with a certificate and sends `frame`; resolves once the node closed the connection.
 * (Under TLS 1.3 the client's handshake completes before the server has checked the client's
 * certificate, so what happened is read from the node's log.)
 */
function impostor(port: number, ca: Buffer, cert: Buffer, key: Buffer, frame: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, cert, key, checkServerIdentity: () => undefined }, () => socket.write(frame));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

test('peers over mutual TLS: replication works; other CAs, plain TCP and a member posing as another are refused', async (t) => {
  const dir = tempDir(t);
  certs(dir, 'n1', 'n2', 'n3', 'n9');
  certs(join(dir, 'evil'), 'n1');
  const files = (d: string, id: number) => ['--peer-cert', join(d, `n${id}.crt`), '--peer-key', join(d, `n${id}.key`), '--peer-ca', join(d, 'ca.crt')];
  // Small snapshots, so a lagging follower is caught up by a snapshot stream (over TLS too).
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3, (id) => [...files(dir, id), '--snapshot-entries', '10', '--snapshot-catchup', '0']);
  const leader = await cluster.leader();
  const client = new QuorumClient({ endpoints: cluster.procs.map((p) => p.url('')) });
  t.teardown(() => client.close());
  for (let i = 0; i < 20; i++) await client.put(`k${i}`, i);
  t.is((await client.get('k19'))?.value, 19);
  // Replication over TLS: every member applies the writes (a stale read answers from the member
  // asked, which may still be applying them: polled, not asserted once).
  for (const p of cluster.procs) {
    await pollUntil(async () => ((await (await fetch(p.url('/v1/kv/k19?consistency=stale'))).json()) as { value?: unknown }).value === 19, `n${p.id} to apply k19`, 10_000);
  }
  const before = (await (await fetch(leader.url('/v1/cluster'))).json()) as { term: number; clusterId: string };
  const ca = readFileSync(join(dir, 'ca.crt'));
  const port = peerPort(leader);
  const forgedFrom = leader.id === 2 ? 3 : 2;
  const forged = encodeFrame([{ type: MessageType.Heartbeat, to: leader.id, from: forgedFrom, term: before.term + 10, logTerm: 0, index: 0, commit: 0, entries: [], reject: false, rejectHint: 0 }]);
  // A certificate from another CA: the handshake fails.
  await impostor(port, ca, readFileSync(join(dir, 'evil', 'n1.crt')), readFileSync(join(dir, 'evil', 'n1.key')), forged);
  await pollUntil(() => protocolErrors(leader).some((m) => /TLS handshake refused/.test(m)), 'the foreign certificate to be refused', 10_000);
  // A real member certificate (n9) whose messages say they come from another member, at a higher
  // term — after an honest hello, and with a hello that says it is another member.
  const n9 = [readFileSync(join(dir, 'n9.crt')), readFileSync(join(dir, 'n9.key'))] as const;
  await impostor(port, ca, ...n9, Buffer.concat([encodeHello(before.clusterId, 9), forged]));
  await impostor(port, ca, ...n9, Buffer.concat([encodeHello(before.clusterId, forgedFrom), forged]));
  // Plain TCP: not even a handshake.
  await new Promise<void>((resolve) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.write(forged));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
  await pollUntil(() => protocolErrors(leader).some((m) => /sent a message from/.test(m)) && protocolErrors(leader).some((m) => /said hello as/.test(m)) && protocolErrors(leader).filter((m) => /TLS handshake refused/.test(m)).length >= 2, 'the refusals to be logged', 10_000);
  const after = (await (await fetch(leader.url('/v1/cluster'))).json()) as { term: number; leader: number };
  t.deepEqual([after.term, after.leader], [before.term, leader.id], 'no impostor moved the term or the leadership');
  await client.put('after', 1);
  t.is((await client.get('after'))?.value, 1);
  // A follower down while 40 writes go by comes back through a snapshot stream.
  const follower = cluster.procs.find((p) => p.id !== leader.id)!;
  follower.child.kill('SIGKILL');
  await follower.exited;
  for (let i = 0; i < 40; i++) await client.put(`late${i}`, i);
  follower.spawn();
  await follower.until((e) => e.event === 'snapshot_installed', 60_000);
  await pollUntil(async () => (await (await fetch(follower.url('/v1/kv/late39?consistency=stale'))).text()).includes('"value":39'), 'the follower to catch up', 30_000, 50);
  t.log(protocolErrors(leader).join(' | '));
});
