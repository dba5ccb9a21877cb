/**
 * A key's TTL is replicated state, not the leader's: with the leader that took the write killed,
 * the next leader expires the key, on every surviving member, once its expiry has passed.
 */
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const staleStatus = async (p: Proc, key: string) => (await fetch(p.url(`/v1/kv/${key}?consistency=stale`))).status;

test('the next leader expires a key whose TTL the killed leader wrote', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3);
  const leader = await cluster.leader();
  const res = await fetch(leader.url('/v1/kv/session/alice'), { method: 'PUT', body: JSON.stringify({ value: { node: 'n1' }, ttlMs: 3000 }) });
  t.is(res.status, 200);
  const { expiresAtMs } = (await res.json()) as { expiresAtMs: number };
  t.is((await fetch(leader.url('/v1/kv/session/bob'), { method: 'PUT', body: '{"value":1}' })).status, 200);
  const others = cluster.alive().filter((p) => p !== leader);
  await pollUntil(async () => (await Promise.all(others.map((p) => staleStatus(p, 'session/bob')))).every((s) => s === 200), 'both followers to apply the writes');
  leader.child.kill('SIGKILL');
  await leader.exited;
  await cluster.leader();
  await pollUntil(async () => (await Promise.all(others.map((p) => staleStatus(p, 'session/alice')))).every((s) => s === 404), 'the survivors to expire the key', 30_000);
  t.true(Date.now() >= expiresAtMs, 'not before its expiry');
  for (const p of others) t.is(await staleStatus(p, 'session/bob'), 200, 'a key without a TTL stays');
});
