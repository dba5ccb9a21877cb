/**
 * Full backups to a real S3-compatible server (versitygw): a checkpoint with an SST large enough
 * for a multipart upload, a second backup reusing what the bucket has (conditional writes),
 * verify reading every object back, and a restore from the bucket into a new node that serves
 * the backed-up keys.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import test from 'ava';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';
import { startVersitygw } from '../helpers/versitygw';
import { openStore } from '../../ts/backup/store';
import { readAll } from '../../ts/backup/manifest';
import { Proc, ProcCluster } from '../cluster/procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');
/**
 * Enough incompressible bytes (~24 MB) that the checkpoint holds an SST over the multipart
 * threshold (16 MiB): the node's memtables are made big enough to hold them all (one flush).
 */
const BATCHES = 24;

async function call(p: Proc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url(path), { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('backups to S3 (versitygw): multipart, reuse, verify, restore into a new node', async (t) => {
  const s3 = await startVersitygw(t);
  Object.assign(process.env, s3.env); // the nodes and the CLI take credentials from the AWS environment
  const dir = tempDir(t);
  const target = s3.target('cluster-a');
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--backup-target', target, '--backup-log-every', 'off', '--memtable-mib', '32']);
  const node = await cluster.leader();
  for (let b = 0; b < BATCHES; b++) {
    const ops = Array.from({ length: 100 }, (_, i) => ({ op: 'put', key: `big/${b}/${i}`, value: randomBytes(7500).toString('base64') }));
    t.is((await call(node, 'POST', '/v1/batch', { ops })).status, 200);
  }
  t.is((await call(node, 'PUT', '/v1/kv/marker', { value: 'first' })).status, 200);
  const first = await call(node, 'POST', '/v1/backups');
  t.is(first.status, 201, JSON.stringify(first.json));
  const manifest = JSON.parse((await readAll(await openStore(target).read(first.json.manifest))).bytes.toString()) as { files: { size: number }[] };
  const largest = Math.max(...manifest.files.map((f) => f.size));
  t.true(largest >= 16 << 20, `the largest file (${largest} bytes) went up in parts`);
  t.is((await call(node, 'PUT', '/v1/kv/marker', { value: 'second' })).status, 200);
  const second = (await call(node, 'POST', '/v1/backups')).json;
  t.true(second.objectsReused > 0 && second.bytesUploaded < second.bytes / 2, JSON.stringify(second));
  t.log(`S3: first backup ${first.json.bytes} bytes; the second uploaded ${second.bytesUploaded} of ${second.bytes}`);

  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', MAIN, ...args], { encoding: 'utf8', env: process.env });
  const verified = cli('backup', 'verify', '--target', target);
  t.is(verified.status, 0, verified.stderr);
  t.is(JSON.parse(verified.stdout).backups.length, 2);

  const [client, peer] = await freePorts(2);
  const out = join(dir, 'restored');
  const restored = cli('restore', '--from', target, '--index', String(first.json.index), '--out', out, '--cluster', `n1=127.0.0.1:${peer}`, '--quiet');
  t.is(restored.status, 0, restored.stderr);
  const p = new Proc(1, client, ['--id', 'n1', '--data', join(out, 'n1'), '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`, '--cluster', `n1=127.0.0.1:${peer}`]);
  p.spawn();
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.until((e) => e.event === 'ready');
  await Object.assign(new ProcCluster(), { procs: [p] }).leader();
  t.like((await call(p, 'GET', '/v1/kv/marker')).json, { value: 'first' });
  t.is((await call(p, 'GET', '/v1/kv?prefix=big/&limit=1000')).json.items.length, 1000);
});

test('the object store down: the backup fails as backup_failed (503), is counted, and leaves no manifest', async (t) => {
  const [dead] = await freePorts(1);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_REGION: 'us-east-1' });
  const target = `s3://nowhere/p?endpoint=${encodeURIComponent(`http://127.0.0.1:${dead}`)}&forcePathStyle=true`;
  const cluster = await ProcCluster.start(t, join(tempDir(t), 'data'), 1, ['--backup-target', target, '--backup-log-every', 'off']);
  const node = await cluster.leader();
  t.is((await call(node, 'PUT', '/v1/kv/a', { value: 1 })).status, 200);
  const failed = await call(node, 'POST', '/v1/backups');
  t.is(failed.status, 503);
  t.is(failed.json.error.code, 'backup_failed');
  t.like((await call(node, 'GET', '/v1/backups')).json, { running: false, last: null, failures: 1 });
  t.regex(await (await fetch(node.url('/metrics'))).text(), /^quorumkv_backup_failures 1$/m);
  t.is((await call(node, 'GET', '/v1/kv/a')).status, 200, 'the node serves on');
});
