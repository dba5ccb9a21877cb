/**
 * The client library against real 3-node clusters: exactly-once compare-and-set and increments
 * through a leader crash, auto-batching with good and bad items in one turn, calls re-routed across
 * leader changes without passing their deadline.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumClient, QuorumClientError } from '../../ts/client';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';

const endpoints = (procs: Proc[]) => procs.map((p) => p.url(''));

async function requestsTo(p: Proc, route: string): Promise<number> {
  const text = await (await fetch(p.url('/metrics'))).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`quorumkv_http_requests_total{route="${route}"`))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

test('kill -9 of the leader while 20 callers increment counters by CAS and 4 by incr: every counter equals its reported increments', async (t) => {
  // The test-only disk stall (POST /v1/test/wal-stall) is allowed on these nodes.
  process.env.QKV_TEST_WAL_FAULTS = 'stall';
  const cluster = await ProcCluster.start(t, tempDir(t));
  const client = new QuorumClient({ endpoints: endpoints(cluster.procs), timeoutMs: 20_000 });
  t.teardown(() => client.close());
  const COUNTERS = 4;
  const reported = new Array<number>(COUNTERS).fill(0);
  for (let c = 0; c < COUNTERS; c++) await client.put(`counter/${c}`, 0);
  let stop = false;
  let mismatches = 0;
  let writing = 0;
  let failure: unknown;
  const caller = async (c: number) => {
    while (!stop && failure === undefined) {
      const cur = (await client.get<number>(`counter/${c}`))!;
      writing++;
      try {
        await client.put(`counter/${c}`, cur.value + 1, { ifRevision: cur.revision });
        reported[c]++;
      } catch (err) {
        if (!(err instanceof QuorumClientError) || err.code !== 'revision_mismatch') failure ??= err;
        else mismatches++;
      } finally {
        writing--;
      }
    }
  };
  // Increments in the state machine (PATCH incr in batches): a retried one must count once.
  const hits = [0, 0];
  const incrCaller = async (c: number) => {
    while (!stop && failure === undefined) {
      await client.incr(`hits/${c}`, 3);
      hits[c] += 3;
    }
  };
  const callers = [...Array.from({ length: 20 }, (_, i) => caller(i % COUNTERS)), ...[0, 1, 0, 1].map(incrCaller)].map((p) => p.catch((err: unknown) => (failure ??= err)));
  const total = () => reported.reduce((a, b) => a + b, 0);
  const until = (done: () => boolean) => new Promise<void>((resolve, reject) => {
    const check = () => (failure !== undefined ? reject(failure) : done() ? resolve() : setImmediate(check));
    check();
  });
  // Twice: stall the leader's own fsync (its followers still persist and acknowledge the batch
  // in flight, so it is committed, but the leader never answers), kill it once increments
  // stopped, let the others carry on, bring it back. The client retries the unanswered CAS
  // writes: without exactly-once they would come back as mismatches, their increments lost.
  for (let round = 0; round < 2; round++) {
    const leader = await cluster.leader();
    const target = total() + 100;
    await until(() => total() >= target);
    const stall = await fetch(leader.url('/v1/test/wal-stall'), { method: 'POST', body: JSON.stringify({ delayMs: 5000, durationMs: 5000 }) });
    t.is(stall.status, 200, await stall.text());
    let seen = total();
    let quietSince = performance.now();
    await pollUntil(() => {
      if (total() !== seen) [seen, quietSince] = [total(), performance.now()];
      return writing > 0 && performance.now() - quietSince >= 300;
    }, 'increments to stop at the stalled leader', 10_000, 10);
    leader.child.kill('SIGKILL');
    await leader.exited;
    const after = total() + 100;
    await until(() => total() >= after);
    leader.spawn();
    await leader.until((e) => e.event === 'ready');
  }
  stop = true;
  await Promise.all(callers);
  for (let c = 0; c < COUNTERS; c++) t.is((await client.get<number>(`counter/${c}`))!.value, reported[c], `counter ${c}`);
  for (const c of [0, 1]) t.is((await client.get<number>(`hits/${c}`))!.value, hits[c], `hits ${c}`);
  t.log(`increments ${reported.join(' + ')}, ${mismatches} CAS conflicts; incr ${hits.join(' + ')}`);
});

test('auto-batching: one turn of good and bad calls is one request each way; every call gets its own answer', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const client = new QuorumClient({ endpoints: [leader.url('')] });
  t.teardown(() => client.close());
  await client.put('warm', 1); // the session is opened and the route counted once
  const batchesBefore = await requestsTo(leader, '/v1/batch');
  const calls = await Promise.allSettled([
    client.put('a', { n: 1 }),
    client.put('', 2),
    client.put('b', 3, { ifRevision: 999 }),
    client.delete('nothing-here'),
    client.put('c', 'x'.repeat(100)),
    client.put('big', 10n), // cannot be serialized: fails here, alone
    client.put('nothing', undefined), // no value: the node answers missing_value for this item
    client.put('quoted "key"\n', 'v'),
  ]);
  t.like(calls[0], { status: 'fulfilled' });
  t.like(calls[1], { status: 'rejected', reason: { code: 'invalid_key' } });
  t.like(calls[2], { status: 'rejected', reason: { code: 'revision_mismatch', status: 409, details: { revision: 0 } } });
  t.like(calls[3], { status: 'fulfilled', value: { deleted: false } });
  t.like(calls[4], { status: 'fulfilled' });
  t.like(calls[5], { status: 'rejected', reason: { name: 'TypeError' } });
  t.like(calls[6], { status: 'rejected', reason: { code: 'missing_value', status: 400 } });
  t.like(calls[7], { status: 'fulfilled' });
  t.is((await requestsTo(leader, '/v1/batch')) - batchesBefore, 1, 'the writes with a key and a JSON value left in one request');
  t.is((await client.get('quoted "key"\n'))?.value, 'v');
  const gets = await Promise.all([client.get('a'), client.get('missing'), client.get('c'), client.get('a', { consistency: 'stale' })]);
  t.deepEqual(gets[0]?.value, { n: 1 });
  t.is(gets[1], undefined);
  t.is((gets[2]?.value as string).length, 100);
  t.is(await client.get('b'), undefined, 'the failed conditional put applied nothing');
});

test('leader changes mid-stream: calls are re-routed and none outlives its deadline', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const client = new QuorumClient({ endpoints: endpoints(cluster.procs), timeoutMs: 8000 });
  t.teardown(() => client.close());
  let stop = false;
  let calls = 0;
  let slowestMs = 0;
  const caller = async (i: number) => {
    for (let n = 0; !stop; n++) {
      const t0 = performance.now();
      await client.put(`k${i}`, n);
      await client.get(`k${i}`);
      slowestMs = Math.max(slowestMs, performance.now() - t0);
      calls += 2;
    }
  };
  const callers = Array.from({ length: 50 }, (_, i) => caller(i));
  for (let moves = 0; moves < 3; moves++) {
    const leader = await cluster.leader();
    const to = cluster.procs.find((p) => p.id !== leader.id)!;
    const before = calls;
    const res = await fetch(leader.url('/v1/cluster/leader'), { method: 'POST', body: JSON.stringify({ id: to.id }) });
    t.is(res.status, 200, await res.text());
    // Calls keep completing under the new leader before the next move.
    await new Promise<void>((resolve) => {
      const check = () => (calls >= before + 200 ? resolve() : setImmediate(check));
      check();
    });
  }
  stop = true;
  await Promise.all(callers);
  t.true(slowestMs < 8000, `slowest put+get pair ${slowestMs.toFixed(0)} ms`);
  t.log(`${calls} calls, slowest put+get pair ${slowestMs.toFixed(0)} ms`);
});

test('a session the store no longer knows: the writes refused session_expired are sent again in a new session, once', async (t) => {
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, dir, 1);
  const client = new QuorumClient({ endpoints: endpoints(cluster.procs), timeoutMs: 20_000 });
  t.teardown(() => client.close());
  await client.put('before', 1);
  // A wiped store (a new cluster on the same address) knows no session: the client's is refused.
  const [p] = cluster.procs;
  p.child.kill('SIGKILL');
  await p.exited;
  rmSync(join(dir, 'n1'), { recursive: true, force: true });
  p.spawn();
  await p.until((e) => e.event === 'ready');
  // A read first: it finds the lost connection (a write whose first send is lost and whose
  // retry is then refused has an unknown outcome, and fails instead).
  t.is(await client.get('before'), undefined, 'the store was wiped');
  const written = await Promise.all(Array.from({ length: 5 }, (_, i) => client.put(`after/${i}`, i)));
  t.true(written.every((w) => w.revision > 0));
  for (let i = 0; i < 5; i++) t.like(await client.get(`after/${i}`), { value: i });
  const batches = await requestsTo(p, '/v1/batch');
  t.is(batches, 2, 'the refused batch, then its writes once more in the new session');
});
