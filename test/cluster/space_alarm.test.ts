/**
 * The disk-space alarm across real processes: a follower whose disk falls below its reserve
 * raises the alarm through the leader (its proposal is forwarded), and every member refuses
 * writes that add data (the dashboard shows which member); removing that member takes its
 * alarm away. The follower's free space is
 * simulated (QKV_TEST_FREE_BYTES_DIR); the others read their real file system.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import type { Sample } from '../../ts/dashboard/page/wire';
import { SseReader } from '../dashboard/sse';
import { ProcCluster } from './procs';

async function call(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('a follower low on disk raises the alarm for the cluster; its removal clears it', async (t) => {
  const dir = tempDir(t);
  const freeDir = join(dir, 'free');
  mkdirSync(freeDir);
  process.env.QKV_TEST_FREE_BYTES_DIR = freeDir;
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3);
  const leader = await cluster.leader();
  const follower = cluster.procs.find((p) => p.id !== leader.id)!;
  t.is((await call(leader.url('/v1/kv/a'), 'PUT', { value: 1 })).status, 200);

  writeFileSync(join(freeDir, `n${follower.id}`), String(2 ** 20));
  await follower.until((e) => e.event === 'space_low');
  for (const p of cluster.procs) await pollUntil(async () => (await call(p.url('/v1/cluster'))).json.alarms.some((a: { member: number }) => a.member === follower.id), `n${p.id} to apply n${follower.id}'s alarm`);
  const refused = await call(leader.url('/v1/kv/a'), 'PUT', { value: 2 });
  t.is(refused.status, 507);
  t.like(refused.json.error, { code: 'no_space', alarms: [{ member: follower.id, freeBytes: 2 ** 20 }] });
  t.like((await call(leader.url('/v1/kv/a'), 'DELETE')).json, { deleted: true });
  // The dashboard's member table says which member is short of disk.
  const { sse } = await SseReader.open(leader.url('/v1/dashboard/stream'));
  t.teardown(() => sse.close());
  const sample = JSON.parse((await sse.nextOf('sample')).data) as Sample;
  t.deepEqual(
    sample.cluster.members.map((m) => [m.id, m.spaceAlarm?.freeBytes ?? null]),
    cluster.procs.map((p) => [p.id, p.id === follower.id ? 2 ** 20 : null]),
  );

  t.is((await call(leader.url(`/v1/cluster/members/${follower.id}`), 'DELETE')).status, 200);
  await pollUntil(async () => (await call(leader.url('/v1/cluster'))).json.alarms.length === 0, 'the removed member\'s alarm to go');
  t.is((await call(leader.url('/v1/kv/a'), 'PUT', { value: 3 })).status, 200);
});
