/**
 * Continuous log backup to a real S3-compatible server (versitygw) that goes down: writes go on
 * unaffected, shipping and scheduled full backups fail and are retried with backoff, the lag grows
 * and is exported; once the server is back the log resumes from the checkpoint with no gap,
 * scheduled backups succeed again, and a restore holds every acknowledged write.
 */
import { join } from 'node:path';
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';
import { s3Target, spawnVersitygw } from '../helpers/versitygw';
import { Proc, ProcCluster } from '../cluster/procs';
import { call, cli } from '../helpers/backup_cli';

const lagSeconds = async (p: Proc) => Number(/^quorumkv_backup_lag_seconds (\S+)$/m.exec(await (await fetch(p.url('/metrics'))).text())?.[1] ?? NaN);

test('the object store down: writes go on, the lag grows, shipping resumes from the checkpoint with no gap', async (t) => {
  const dir = tempDir(t);
  let s3 = await spawnVersitygw(join(dir, 's3'), 'backups');
  t.teardown(() => void s3.proc.kill('SIGKILL'));
  Object.assign(process.env, s3.env);
  const port = Number(new URL(s3.endpoint).port);
  const target = s3Target('backups', 'log', s3.endpoint);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--backup-target', target, '--backup-log-every', '200ms', '--backup-full-every', '2s']);
  const node = await cluster.leader();
  let written = 0;
  const write = async () => {
    const r = await call(node, 'PUT', `/v1/kv/k${written}`, { value: written });
    t.is(r.status, 200, JSON.stringify(r.json));
    written++;
    return r.json.revision as number;
  };
  const shipped = async () => ((await call(node, 'GET', '/v1/backups')).json.log?.shippedIndex ?? 0) as number;
  const first = await write();
  await pollUntil(async () => (await shipped()) >= first, 'the first write shipped', 30_000, 50);

  s3.proc.kill('SIGKILL');
  await new Promise((r) => s3.proc.once('exit', r));
  let last = 0;
  for (let i = 0; i < 20; i++) last = await write();
  await pollUntil(async () => (await call(node, 'GET', '/v1/backups')).json.log.failures >= 2, 'shipping to fail and be retried', 30_000, 50);
  await pollUntil(async () => (await lagSeconds(node)) >= 1, 'the lag to pass 1 s while the store is down', 30_000, 50);
  t.true((await shipped()) < last, 'nothing shipped while the store was down');

  await pollUntil(async () => (await call(node, 'GET', '/v1/backups')).json.failures >= 1, 'a scheduled full backup to fail', 30_000, 50);
  const backAtMs = Date.now();
  s3 = await spawnVersitygw(join(dir, 's3'), 'backups', { port });
  await pollUntil(async () => (await shipped()) >= last, 'shipping to catch up once the store is back', 60_000, 50);
  // The failed scheduled backup is retried with backoff, not left for the next interval.
  await pollUntil(async () => Date.parse((await call(node, 'GET', '/v1/backups')).json.last?.at ?? '0') > backAtMs, 'a scheduled full backup to succeed again', 30_000, 50);
  const status = (await call(node, 'GET', '/v1/backups')).json.log;
  t.is(status.gaps, 0, JSON.stringify(status));
  t.log(`shipped through ${status.shippedIndex} after ${status.failures} failed rounds`);

  const verified = cli('backup', 'verify', '--target', target);
  t.is(verified.status, 0, verified.err);
  t.deepEqual(JSON.parse(verified.out).log.gaps, []);
  const [peer] = await freePorts(1);
  const restored = cli('restore', '--from', target, '--out', join(dir, 'restored'), '--cluster', `n1=127.0.0.1:${peer}`, '--quiet');
  t.is(restored.status, 0, restored.err);
  t.true(JSON.parse(restored.out).index >= last, 'every acknowledged write is in the restore');
});
