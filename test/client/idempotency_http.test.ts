/**
 * Exactly-once for plain HTTP users: the `Idempotency-Key` header on a real cluster — a repeat
 * (to any member, after every node restarted) gets the first answer and applies nothing; the
 * same key on another write is refused; a batch carries one key (the header) or a key per item.
 */
import test from 'ava';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';

async function send(p: Proc, method: string, path: string, body: unknown, key?: string): Promise<{ status: number; replayed: string | null; json: Record<string, unknown> }> {
  const res = await fetch(p.url(path), { method, body: JSON.stringify(body), headers: key ? { 'idempotency-key': key } : {} });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), json: (await res.json()) as Record<string, unknown> };
}

test('a repeated Idempotency-Key gets the first answer from any member, across restarts', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const first = await send(leader, 'PUT', '/v1/kv/order/1', { value: { qty: 100 } }, 'order-1-create');
  t.is(first.status, 200);
  t.is(first.replayed, null);
  await send(leader, 'PUT', '/v1/kv/order/1', { value: { qty: 50 } });
  const follower = cluster.procs.find((p) => p.id !== leader.id)!;
  const again = await send(follower, 'PUT', '/v1/kv/order/1', { value: { qty: 100 } }, 'order-1-create');
  t.deepEqual([again.status, again.replayed, again.json], [200, 'true', first.json]);
  const reused = await send(leader, 'PUT', '/v1/kv/order/1', { value: { qty: 7 } }, 'order-1-create');
  t.is(reused.status, 422);
  t.is((reused.json.error as { code: string }).code, 'idempotency_key_reused');
  t.deepEqual((await fetch(leader.url('/v1/kv/order/1')).then((r) => r.json()) as { value: unknown }).value, { qty: 50 });
  // A conflict is an answer too: replayed as the same 409.
  const cas = await send(leader, 'PUT', '/v1/kv/order/1', { value: 1, ifRevision: 1 }, 'cas-1');
  t.is(cas.status, 409);
  // Every node restarts: the keys are replicated state in the engine.
  for (const p of cluster.procs) p.child.kill('SIGKILL');
  await Promise.all(cluster.procs.map((p) => p.exited));
  for (const p of cluster.procs) p.spawn();
  await Promise.all(cluster.procs.map((p) => p.until((e) => e.event === 'ready')));
  const after = await cluster.leader();
  const replay = await send(after, 'PUT', '/v1/kv/order/1', { value: { qty: 100 } }, 'order-1-create');
  t.deepEqual([replay.status, replay.replayed, replay.json], [200, 'true', first.json]);
  const casAgain = await send(after, 'PUT', '/v1/kv/order/1', { value: 1, ifRevision: 1 }, 'cas-1');
  t.deepEqual([casAgain.status, casAgain.replayed, casAgain.json], [409, 'true', cas.json]);
});

test('sessions: keys s<n>:<seq> of an opened session; unknown sessions and bad keys are refused', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t), 1);
  const p = await cluster.leader();
  const opened = await send(p, 'POST', '/v1/sessions', {});
  t.is(opened.status, 200);
  const session = opened.json.session as string;
  t.regex(session, /^s\d+$/);
  const batch = { ops: [{ op: 'put', key: 'a', value: 1, idempotencyKey: `${session}:1` }, { op: 'delete', key: 'b', idempotencyKey: 's999999:1' }, { op: 'put', key: 'c' }] };
  const first = await send(p, 'POST', '/v1/batch', batch);
  t.is(first.status, 200);
  const results = first.json.results as Record<string, unknown>[];
  t.is(typeof results[0].revision, 'number');
  t.is((results[1].error as { code: string }).code, 'session_expired');
  t.is((results[2].error as { code: string }).code, 'missing_value');
  const retry = await send(p, 'POST', '/v1/batch', batch);
  t.deepEqual((retry.json.results as Record<string, unknown>[])[0], { ...results[0], replayed: true });
  // One key for a whole batch (the header): a repeat gets the same status and body, applies nothing.
  const keyed = { ops: [{ op: 'put', key: 'k1', value: 1 }, { op: 'put', key: 'k2', value: 2, ifRevision: 5 }, { op: 'put', key: 'k3' }] };
  const once = await send(p, 'POST', '/v1/batch', keyed, `${session}:2`);
  t.is(once.status, 200);
  const answers = once.json.results as Record<string, unknown>[];
  t.deepEqual([typeof answers[0].revision, (answers[1].error as { code: string }).code, (answers[2].error as { code: string }).code], ['number', 'revision_mismatch', 'missing_value']);
  await send(p, 'PUT', '/v1/kv/k1', { value: 'later' });
  const repeat = await send(p, 'POST', '/v1/batch', keyed, `${session}:2`);
  t.deepEqual([repeat.status, repeat.replayed, repeat.json], [200, 'true', once.json]);
  t.is((await fetch(p.url('/v1/kv/k1')).then((r) => r.json()) as { value: unknown }).value, 'later');
  const other = await send(p, 'POST', '/v1/batch', { ops: [keyed.ops[0]] }, `${session}:2`);
  t.deepEqual([other.status, (other.json.error as { code: string }).code], [422, 'idempotency_key_reused']);
  const gone = await send(p, 'POST', '/v1/batch', keyed, 's999999:1');
  t.deepEqual([gone.status, (gone.json.error as { code: string }).code], [410, 'session_expired']);
  const both = await send(p, 'POST', '/v1/batch', batch, `${session}:3`);
  t.deepEqual([both.status, (both.json.error as { code: string }).code], [400, 'invalid_body']);
  const bad = await send(p, 'PUT', '/v1/kv/x', { value: 1 }, 'has space');
  t.is(bad.status, 400);
  t.is((bad.json.error as { code: string }).code, 'invalid_idempotency_key');
});
