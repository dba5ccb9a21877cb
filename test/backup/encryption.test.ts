/**
 * Encryption at rest: objects sealed with AES-256-GCM round-trip (empty, small, larger than a
 * stream chunk), a flipped byte or another key is refused as backup_corrupt, a keyless reader is
 * told the backups are encrypted; on a node, no plaintext value reaches the target, restore with
 * the key serves it, and a key that cannot be read stops the node at start.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { encrypted, loadKey } from '../../ts/backup/crypt';
import { readAll } from '../../ts/backup/manifest';
import { RateLimit } from '../../ts/backup/rate';
import { openStore } from '../../ts/backup/store';
import { QuorumError } from '../../ts/errors';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';
import { Proc, ProcCluster } from '../cluster/procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', MAIN, ...args], { encoding: 'utf8' });

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

test('sealed objects round-trip; tampering and another key are backup_corrupt; a keyless reader sees none', async (t) => {
  const dir = tempDir(t);
  const url = pathToFileURL(join(dir, 'store')).href;
  const key = randomBytes(32);
  const store = encrypted(openStore(url), key);
  const plain = new RateLimit(0);
  for (const size of [0, 100, 300_000]) {
    const body = randomBytes(size);
    const file = join(dir, `f${size}`);
    writeFileSync(file, body);
    await store.putFile(`sst/f${size}.sst`, () => plain.read(file), size, true);
    t.true((await readAll(await store.read(`sst/f${size}.sst`))).bytes.equals(body), `${size} bytes round-trip`);
    t.is(await store.size(`sst/f${size}.sst`), size);
  }
  await store.putBytes('snap/1-1/MANIFEST.json', Buffer.from('{"secret":"value"}'));
  t.deepEqual(await store.list('snap/'), ['snap/1-1/MANIFEST.json']);
  t.false(readFileSync(join(dir, 'store', 'snap', '1-1', 'MANIFEST.json.enc')).includes('secret'));
  const path = join(dir, 'store', 'sst', 'f100.sst.enc');
  const bytes = readFileSync(path);
  bytes[40] ^= 1;
  writeFileSync(path, bytes);
  const damaged = await t.throwsAsync(async () => readAll(await store.read('sst/f100.sst')));
  t.is((damaged as QuorumError).code, 'backup_corrupt');
  const other = await t.throwsAsync(async () => readAll(await encrypted(openStore(url), randomBytes(32)).read('sst/f300000.sst')));
  t.regex((other as Error).message, /another key/);
  t.deepEqual(await openStore(url).list('snap/'), ['snap/1-1/MANIFEST.json.enc'], 'a keyless store lists only sealed names');
});

test('an encrypted node: nothing plain in the target, list needs the key, restore with it serves the data; an unreadable key stops start', async (t) => {
  const dir = tempDir(t);
  const target = pathToFileURL(join(dir, 'store')).href;
  const keyFile = join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'));
  t.is(loadKey(keyFile).length, 32);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--backup-target', target, '--backup-encryption-key-file', keyFile, '--backup-log-every', 'off']);
  const node = await cluster.leader();
  const secret = `needle-${randomBytes(8).toString('hex')}`;
  t.is((await fetch(node.url('/v1/kv/s'), { method: 'PUT', body: JSON.stringify({ value: secret }) })).status, 200);
  t.is((await fetch(node.url('/v1/backups'), { method: 'POST' })).status, 201);
  for (const f of walk(join(dir, 'store'))) {
    t.true(f.endsWith('.enc'), `${f} is sealed`);
    t.false(readFileSync(f).includes(secret), `${f} holds no plaintext`);
  }
  const keyless = cli('backup', 'list', '--target', target);
  t.is(keyless.status, 1);
  t.regex(keyless.stderr, /encrypted: give --encryption-key-file/);
  t.is(JSON.parse(cli('backup', 'list', '--target', target, '--encryption-key-file', keyFile).stdout).backups.length, 1);
  const [client, peer] = await freePorts(2);
  const restored = cli('restore', '--from', target, '--out', join(dir, 'r'), '--cluster', `n1=127.0.0.1:${peer}`, '--encryption-key-file', keyFile, '--quiet');
  t.is(restored.status, 0, restored.stderr);
  const p = new Proc(1, client, ['--id', 'n1', '--data', join(dir, 'r', 'n1'), '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`, '--cluster', `n1=127.0.0.1:${peer}`]);
  p.spawn();
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.until((e) => e.event === 'ready');
  await Object.assign(new ProcCluster(), { procs: [p] }).leader();
  t.like(await (await fetch(p.url('/v1/kv/s'))).json(), { value: secret });

  writeFileSync(keyFile, 'not a key');
  const refused = cli('start', '--id', 'n1', '--data', join(dir, 'x'), '--listen', '127.0.0.1:1', '--peer-listen', '127.0.0.1:2', '--cluster', 'n1=127.0.0.1:2', '--backup-target', target, '--backup-encryption-key-file', keyFile);
  t.is(refused.status, 1);
  t.regex(refused.stderr, /encryption key is 32 bytes/);
});
