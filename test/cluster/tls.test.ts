/**
 * TLS on the client API with certificates from `quorumkv certs`: HTTP/2 and HTTP/1.1 on one
 * port by ALPN, the client library over both, client certificates when `--client-ca` asks for
 * them, a certificate swapped on SIGHUP without a restart, and plaintext refused on a
 * non-loopback address.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { generate } from '../../ts/market/generator';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

function cli(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import=tsx', MAIN, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function makeCerts(dir: string): void {
  for (const args of [['init'], ['issue', 'n1'], ['issue', 'n1-next'], ['issue', 'alice', '--client']]) {
    const r = cli('certs', ...args, '--dir', dir);
    if (r.status !== 0) throw new Error(`certs ${args.join(' ')}: ${r.out}`);
  }
}

const https = (p: Proc) => `https://127.0.0.1:${p.port}`;

/** The ALPN protocol and certificate serial a TLS handshake offering `protocols` gets. */
function handshake(p: Proc, ca: Buffer, protocols: string[], client?: { cert: Buffer; key: Buffer }): Promise<{ alpn: string | false; serial: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: p.port, ca, ALPNProtocols: protocols, servername: 'localhost', ...client }, () => {
      const out = { alpn: socket.alpnProtocol ?? false, serial: socket.getPeerCertificate().serialNumber };
      socket.end();
      resolve(out);
    });
    socket.on('error', reject);
  });
}

test('HTTPS: h2 and http/1.1 by ALPN, the client library over both, a new certificate on SIGHUP', async (t) => {
  const dir = tempDir(t);
  makeCerts(dir);
  const cert = join(dir, 'served.crt');
  const key = join(dir, 'served.key');
  copyFileSync(join(dir, 'n1.crt'), cert);
  copyFileSync(join(dir, 'n1.key'), key);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--cert', cert, '--key', key]);
  const node = await cluster.leader();
  const ca = readFileSync(join(dir, 'ca.crt'));
  t.is((await handshake(node, ca, ['h2', 'http/1.1'])).alpn, 'h2');
  t.is((await handshake(node, ca, ['http/1.1'])).alpn, 'http/1.1');
  for (const protocol of ['h2', 'h1'] as const) {
    const client = new QuorumClient({ endpoints: [https(node)], protocol, tls: { ca } });
    t.teardown(() => client.close());
    await client.put(`over-${protocol}`, { secure: true });
    t.deepEqual((await client.get(`over-${protocol}`))?.value, { secure: true });
  }
  // Without the CA the node's certificate is not trusted.
  const untrusted = await new Promise<string>((resolve) => get(`${https(node)}/health`, () => resolve('answered')).on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message)));
  t.regex(untrusted, /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
  // SIGHUP: the files now hold another certificate; new connections get it, the node stays up.
  const before = (await handshake(node, ca, ['h2'])).serial;
  copyFileSync(join(dir, 'n1-next.crt'), cert);
  copyFileSync(join(dir, 'n1-next.key'), key);
  node.child.kill('SIGHUP');
  await node.until((e) => e.event === 'tls_reloaded');
  const after = (await handshake(node, ca, ['h2'])).serial;
  t.not(after, before);
  t.is(after, new (await import('node:crypto')).X509Certificate(readFileSync(join(dir, 'n1-next.crt'))).serialNumber);
});

test('the CLI ingests and replays market data over HTTPS (members are asked in the endpoints\' scheme)', async (t) => {
  const dir = tempDir(t);
  makeCerts(dir);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--cert', join(dir, 'n1.crt'), '--key', join(dir, 'n1.key')]);
  const node = await cluster.leader();
  const tls = ['--endpoint', https(node), '--cacert', join(dir, 'ca.crt')];
  const day = join(dir, 'day.ndjson');
  writeFileSync(day, [...generate({ instruments: 2, minutes: 1, seed: 3, eventsPerSecond: 20 })].join('\n'));
  const ingest = cli('md', 'ingest', day, ...tls);
  t.is(ingest.status, 0, ingest.out);
  const out = join(dir, 'replay.ndjson');
  const replay = cli('md', 'replay', '--instruments', 'SYM001,SYM002', '--out', out, ...tls);
  t.is(replay.status, 0, replay.out);
  t.regex(replay.out, new RegExp(`replaying from ${https(node).replace(/[/.]/g, '\\$&')}`));
  t.regex(readFileSync(out, 'utf8').trimEnd().split('\n').pop()!, /^\{"kind":"done","events":\d+/);
});

test('--client-ca: a client without a certificate from that CA is refused at the handshake', async (t) => {
  const dir = tempDir(t);
  makeCerts(dir);
  const ca = readFileSync(join(dir, 'ca.crt'));
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--cert', join(dir, 'n1.crt'), '--key', join(dir, 'n1.key'), '--client-ca', join(dir, 'ca.crt')]);
  const node = await cluster.leader();
  const alice = { cert: readFileSync(join(dir, 'alice.crt')), key: readFileSync(join(dir, 'alice.key')) };
  t.is((await handshake(node, ca, ['h2'], alice)).alpn, 'h2');
  const client = new QuorumClient({ endpoints: [https(node)], tls: { ca, ...alice } });
  t.teardown(() => client.close());
  await client.put('mtls', 1);
  t.is((await client.get('mtls'))?.value, 1);
  const anonymous = await new Promise<string>((resolve) => {
    get(`${https(node)}/health`, { ca }, (res) => resolve(`answered ${res.statusCode}`)).on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
  });
  t.notRegex(anonymous, /^answered/);
});

test('plaintext on a non-loopback address is refused without --insecure; bad TLS flags are named', (t) => {
  const base = ['start', '--id', 'n1', '--data', tempDir(t), '--peer-listen', '127.0.0.1:1', '--cluster', 'n1=127.0.0.1:1'];
  const open = cli(...base, '--listen', '0.0.0.0:1');
  t.not(open.status, 0);
  t.regex(open.out, /refusing to serve plaintext on 0\.0\.0\.0/);
  const half = cli(...base, '--listen', '127.0.0.1:1', '--cert', '/nonexistent.crt');
  t.regex(half.out, /--cert and --key go together/);
  const missing = cli(...base, '--listen', '127.0.0.1:1', '--cert', '/nonexistent.crt', '--key', '/nonexistent.key');
  t.regex(missing.out, /the TLS files do not load/);
});
