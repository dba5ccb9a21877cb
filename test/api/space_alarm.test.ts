/**
 * The disk-space alarm at the API: while a member's disk is below its reserve, writes that add
 * data (puts, increments, txns with either, batch items that do, market data) are refused 507
 * `no_space` and nothing of them applies, while reads, deletes, range deletes and purges go on;
 * the alarm shows in /v1/cluster, /health and the metrics, and clears once space is back.
 */
import test from 'ava';
import { QuorumClient, QuorumClientError } from '../../ts/client';
import { SPACE_CLEAR_RATIO } from '../../ts/node/space_guard';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

const MIB = 2 ** 20;
const RESERVE = 100 * MIB;

async function call(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('below the reserve only reads and deletes are taken; the alarm clears once space is back', async (t) => {
  const disk = { free: 1000 * MIB, reads: 0 };
  const { url, node } = await singleNode(t, { spaceReserveBytes: RESERVE, freeBytes: async () => (disk.reads++, disk.free) });
  for (const k of ['a', 'b', 'c', 'p/1', 'p/2']) t.is((await call(url(`/v1/kv/${k}`), 'PUT', { value: 1 })).status, 200);
  disk.free = 10 * MIB;
  await pollUntil(async () => (await call(url('/v1/cluster'))).json.alarms.length > 0, 'the alarm raised');
  const cluster = await call(url('/v1/cluster'));
  t.like(cluster.json.alarms[0], { member: 1, alarm: 'nospace', freeBytes: 10 * MIB, reserveBytes: RESERVE });
  t.like((await call(url('/health'))).json, { ok: true, alarms: [{ member: 1 }] });
  t.regex(await (await fetch(url('/metrics'))).text(), /^quorumkv_space_alarms 1$/m);

  const revision = node.status().appliedIndex;
  const refused = await call(url('/v1/kv/a'), 'PUT', { value: 2 });
  t.is(refused.status, 507);
  t.like(refused.json.error, { code: 'no_space', alarms: [{ member: 1, freeBytes: 10 * MIB, reserveBytes: RESERVE }] });
  t.regex(refused.json.error.message, /n1 has 10\.0 MiB free, below its reserve of 100\.0 MiB/);
  t.is((await call(url('/v1/kv/n'), 'PATCH', { op: 'incr' })).status, 507);
  t.is((await call(url('/v1/txn'), 'POST', { compare: [], success: [{ op: 'delete', key: 'a' }], failure: [{ op: 'put', key: 'a', value: 3 }] })).status, 507, 'a txn that may put');
  const ingest = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify({ kind: 'trade', instrument: 'X', price: '1', size: 1, side: 'buy', tsEvent: 1, producerId: 'p', producerSeq: 1 }) });
  t.is(ingest.status, 507);
  t.is(node.status().appliedIndex, revision, 'nothing refused was proposed');
  const batch = await call(url('/v1/batch'), 'POST', { ops: [{ op: 'put', key: 'd', value: 1 }, { op: 'delete', key: 'b' }] });
  t.is(batch.status, 200);
  t.is(batch.json.results[0].error.code, 'no_space');
  t.true(batch.json.results[1].deleted, 'a delete in the same batch went through');

  // Reads, deletes, range deletes, txns that only delete, TTL changes: taken.
  t.like((await call(url('/v1/kv/a'))).json, { value: 1 });
  t.like((await call(url('/v1/kv/a'), 'DELETE')).json, { deleted: true });
  t.like((await call(url('/v1/kv?prefix=p/'), 'DELETE')).json, { deleted: 2 });
  t.like((await call(url('/v1/txn'), 'POST', { compare: [], success: [{ op: 'delete', key: 'c' }], failure: [] })).json, { succeeded: true });
  t.is((await call(url('/v1/kv/d'))).status, 404, 'the refused batch item applied nothing');

  // The client library: the code, not retried.
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.put('e', 1));
  t.true(err instanceof QuorumClientError && err.code === 'no_space' && err.status === 507);

  // Above the reserve but below 1.25x: still raised (two more readings).
  disk.free = RESERVE + MIB;
  const after = disk.reads;
  await pollUntil(async () => disk.reads >= after + 2, 'two more readings');
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 4 })).status, 507);
  disk.free = SPACE_CLEAR_RATIO * RESERVE;
  await pollUntil(async () => (await call(url('/v1/cluster'))).json.alarms.length === 0, 'the alarm cleared');
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 5 })).status, 200);
  t.false('alarms' in (await call(url('/health'))).json);
});

test('the real file system: a reserve larger than the disk raises the alarm', async (t) => {
  const { url } = await singleNode(t, { spaceReserveBytes: 2 ** 60 });
  await pollUntil(async () => (await call(url('/v1/cluster'))).json.alarms.length > 0, 'the alarm raised');
  const { alarms } = (await call(url('/v1/cluster'))).json;
  t.true(alarms[0].freeBytes > 0 && alarms[0].freeBytes < 2 ** 60, 'what statfs said was free');
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 1 })).status, 507);
});
