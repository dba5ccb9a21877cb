/**
 * The product as users run it: three `quorumkv start` processes on 127.0.0.1. The tests run one
 * at a time: each starts its own three nodes, and this machine has two cores.
 */
import { connect } from 'node:http2';
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { ProcCluster, type Proc } from './procs';

async function call(p: Proc, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url(path), { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/**
 * A write as a client makes it: with an Idempotency-Key, retried while the outcome is unknown or
 * the cluster is settling (504/503 — right after start a follower's forwarded proposal can be
 * dropped before its connection to the leader is up); exactly-once makes the retry safe.
 */
async function write(p: Proc, path: string, body: unknown, method = 'PUT'): Promise<{ status: number; json: any }> {
  const headers = { 'idempotency-key': `test-${path}-${Date.now()}` };
  for (let attempt = 0; ; attempt++) {
    const r = await call(p, method, path, body, headers);
    if (![503, 504].includes(r.status) || attempt === 3) return r;
  }
}

/** One request over HTTP/2 with prior knowledge (h2c). */
function callH2(p: Proc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${p.port}`);
    session.on('error', reject);
    const req = session.request({ ':method': method, ':path': path, 'content-type': 'application/json' });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status, json: JSON.parse(Buffer.concat(chunks).toString()) });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test.serial('HTTP/1.1 and HTTP/2 on one port; writes and reads through any node', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const [f1, f2] = cluster.procs.filter((p) => p !== leader);

  const put = await write(f1, '/v1/kv/greeting', { value: { hello: 'world' } });
  t.is(put.status, 200);
  t.true(put.json.revision > 0);
  const viaH2 = await callH2(f2, 'GET', '/v1/kv/greeting');
  t.deepEqual(viaH2, { status: 200, json: { key: 'greeting', value: { hello: 'world' }, revision: put.json.revision } });
  const h2put = await callH2(leader, 'PUT', '/v1/kv/h2', { value: 42 });
  t.is(h2put.status, 200);
  t.is((await call(f1, 'GET', '/v1/kv/h2')).json.value, 42);
});

test.serial('kill -9 of the leader loses no acknowledged write; the restarted node catches up', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();

  // 200 acknowledged writes, then the leader dies without warning. Made as a client makes them
  // (`write`): in a CI run every write sent through one follower (66 of 200) failed, as a
  // follower's forwarded proposals can right after start.
  const acked: string[] = [];
  const refused: string[] = [];
  await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const r = await write(cluster.procs[i % 3], `/v1/kv/w${i}`, { value: i });
    if (r.status === 200) acked.push(`w${i}`);
    else refused.push(`w${i} via n${cluster.procs[i % 3].id}: ${r.status} ${JSON.stringify(r.json)}`);
  }));
  t.is(acked.length, 200, refused.slice(0, 5).join('\n'));
  leader.child.kill('SIGKILL');
  await leader.exited;
  const next = await cluster.leader();
  t.not(next.id, leader.id);
  for (const key of acked) {
    const r = await call(next, 'GET', `/v1/kv/${key}`);
    t.is(r.status, 200, key);
  }

  // The killed node restarts from its WAL and engine and catches up.
  leader.spawn();
  await leader.until((e) => e.event === 'ready');
  await cluster.leader(); // it has heard from the current leader
  const after = await call(next, 'PUT', '/v1/kv/after-restart', { value: true });
  t.is(after.status, 200);
  const back = await call(leader, 'GET', '/v1/kv/after-restart');
  t.is(back.status, 200);
  t.is((await call(leader, 'GET', '/v1/kv/w199')).json.value, 199);
});

test.serial('SIGTERM under write load: requests taken finish, the node exits 0, every acknowledged write is kept', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  await cluster.leader();
  const f2 = cluster.procs[1];
  // First a write through f2 that commits. Once in CI (a loaded host) the first answer was a
  // 504 (not confirmed within the 5 s request timeout), so the SIGTERM found no write in flight
  // and the test checked nothing of what it is for.
  await pollUntil(async () => (await call(f2, 'PUT', '/v1/kv/warm', { value: 0 }).catch(() => ({ status: 0 }))).status === 200, 'a first write through f2');
  // SIGTERM while writes are in flight: requests already taken finish, later ones are refused
  // (503 or connection refused), the process exits 0, and every acknowledged write is kept.
  let first!: () => void;
  const firstDone = new Promise<void>((resolve) => (first = resolve));
  const inflight = Array.from({ length: 100 }, (_, i) =>
    call(f2, 'PUT', `/v1/kv/term${i}`, { value: i }).then(
      (r) => {
        first();
        return r.status;
      },
      () => 'refused' as const,
    ),
  );
  await firstDone;
  f2.child.kill('SIGTERM');
  const outcomes = await Promise.all(inflight);
  const exit = await f2.exited;
  t.is(exit.code, 0);
  t.truthy(f2.events.find((e) => e.event === 'stopped'));
  t.true(outcomes.every((o) => o === 200 || o === 503 || o === 'refused'), JSON.stringify(outcomes));
  t.true(outcomes.some((o) => o === 200), 'at least the first write was acknowledged');
  const survivor = await cluster.leader(); // f2 may have been the leader: wait for the next one
  for (let i = 0; i < outcomes.length; i++) {
    if (outcomes[i] === 200) {
      const r = await call(survivor, 'GET', `/v1/kv/term${i}`);
      t.is(r.json.value, i, `acknowledged term${i}: ${JSON.stringify(r)}`);
    }
  }
});

test.serial('bad input gets a coded JSON error and changes nothing', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const p = await cluster.leader();
  const cases: [string, string, unknown, number, string][] = [
    ['PUT', '/v1/kv/k', 'not json', 400, 'invalid_json'],
    ['PUT', '/v1/kv/k', { nope: 1 }, 400, 'missing_value'],
    ['PUT', '/v1/kv/k', [1], 400, 'invalid_body'],
    ['PUT', '/v1/kv/', { value: 1 }, 400, 'invalid_key'],
    ['PUT', `/v1/kv/${'k'.repeat(4097)}`, { value: 1 }, 400, 'key_too_large'],
    ['PUT', '/v1/kv/k', { value: 'x'.repeat((1 << 20) + 1) }, 413, 'value_too_large'],
    ['PUT', '/v1/kv/k', JSON.stringify({ value: 'x'.repeat(5 << 20) }), 413, 'body_too_large'],
    ['PUT', '/v1/kv/k', { value: 1, ifRevision: -1 }, 400, 'invalid_revision'],
    ['GET', '/v1/kv/missing', undefined, 404, 'not_found'],
    ['GET', '/v1/kv/k?consistency=eventual', undefined, 400, 'invalid_consistency'],
    ['GET', '/v1/kv?limit=0', undefined, 400, 'invalid_limit'],
    ['POST', '/v1/kv/get', { keys: 'k' }, 400, 'invalid_body'],
    ['GET', '/v2/nothing', undefined, 404, 'route_not_found'],
    ['POST', '/v1/kv/k', undefined, 405, 'method_not_allowed'],
    ['DELETE', '/v1/cluster', undefined, 405, 'method_not_allowed'],
    ['POST', '/v1/txn', { compare: [{ key: '' }] }, 400, 'invalid_key'],
    ['POST', '/v1/txn', { success: [{ op: 'frob', key: 'k' }] }, 400, 'invalid_op'],
    ['POST', '/v1/txn', { success: [{ op: 'put', key: 'k' }] }, 400, 'missing_value'],
    ['GET', '/v1/txn', undefined, 405, 'method_not_allowed'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const r = await call(p, method, path, body);
    t.is(r.status, status, `${method} ${path.slice(0, 40)}`);
    t.is(r.json.error?.code, code, `${method} ${path.slice(0, 40)}`);
    t.is(typeof r.json.error?.message, 'string');
  }
  const scan = await call(p, 'GET', '/v1/kv?prefix=');
  t.deepEqual(scan.json, { items: [], more: false }, 'nothing was written by the bad requests');
  const created = await call(p, 'PUT', '/v1/kv/k', { value: 1, ifRevision: 0 });
  t.is(created.status, 200);
  const again = await call(p, 'PUT', '/v1/kv/k', { value: 2, ifRevision: 0 });
  t.deepEqual([again.status, again.json.error.code, again.json.error.revision], [409, 'revision_mismatch', created.json.revision]);
});

test.serial('1,000 concurrent writers to distinct keys are all readable', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  await cluster.leader();
  // Like any client, a writer retries what the node refused as retryable (429 throttled, 503
  // overloaded or unavailable: known not applied) — under a loaded machine a burst of 1,000 can
  // draw some. Anything else fails the test.
  const refusals = new Map<string, number>();
  const write = async (i: number) => {
    for (let attempt = 1; ; attempt++) {
      const r = await call(cluster.procs[i % 3], 'PUT', `/v1/kv/c${String(i).padStart(4, '0')}`, { value: i });
      if (r.status !== 429 && r.status !== 503) return r;
      refusals.set(r.json.error.code, (refusals.get(r.json.error.code) ?? 0) + 1);
      if (attempt === 20) return r;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  };
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => write(i)));
  if (refusals.size > 0) t.log(`retried refusals: ${JSON.stringify(Object.fromEntries(refusals))}`);
  t.deepEqual(results.filter((r) => r.status !== 200).map((r) => r.json), []);
  const keys = Array.from({ length: 1000 }, (_, i) => `c${String(i).padStart(4, '0')}`);
  const got = await call(cluster.procs[1], 'POST', '/v1/kv/get', { keys });
  t.deepEqual(got.json.items.map((it: { value: number }) => it.value), Array.from({ length: 1000 }, (_, i) => i));
});

test.serial('txn: compare-and-set on revision, value and existence, atomically', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const p = await cluster.leader();
  const a = await call(p, 'PUT', '/v1/kv/a', { value: { n: 1 } });
  // Through a follower, as a client sends it (keyed, retried while the outcome is unknown: an
  // election under load right after start can drop the forwarded proposal — a retry of one that
  // applied gets its first answer, so the compares are never evaluated twice).
  const cas = await write(cluster.procs.find((q) => q !== p)!, '/v1/txn', {
    compare: [{ key: 'a', value: { n: 1 } }, { key: 'a', revision: a.json.revision }, { key: 'b', exists: false }],
    success: [{ op: 'put', key: 'a', value: { n: 2 } }, { op: 'put', key: 'b', value: 'new' }, { op: 'get', key: 'a' }],
    failure: [{ op: 'get', key: 'a' }],
  }, 'POST');
  t.is(cas.status, 200);
  t.true(cas.json.succeeded);
  t.deepEqual(cas.json.results.map((r: { op: string }) => r.op), ['put', 'put', 'get']);
  t.deepEqual(cas.json.results[2].value, { n: 2 }, 'a get sees the puts before it');

  const stale = await call(p, 'POST', '/v1/txn', {
    compare: [{ key: 'a', value: { n: 1 } }],
    success: [{ op: 'delete', key: 'a' }],
    failure: [{ op: 'get', key: 'a' }, { op: 'get', key: 'missing' }],
  });
  t.false(stale.json.succeeded);
  t.deepEqual(stale.json.results, [
    { op: 'get', key: 'a', value: { n: 2 }, revision: cas.json.revision },
    { op: 'get', key: 'missing', found: false },
  ]);
  t.is((await call(p, 'GET', '/v1/kv/a')).json.value.n, 2, 'the failed branch changed nothing');
});
