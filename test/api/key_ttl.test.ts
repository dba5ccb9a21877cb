/**
 * `PUT /v1/kv/{key}` with `ttlMs`: the answer names the expiry; the key reads until the leader's
 * Expire entry deletes it once the expiry has passed; a write without a TTL ends it; a repeated
 * Idempotency-Key gets the first answer; a bad TTL is a coded error and writes nothing. The
 * CLI's `put --ttl` and the client's `put(…, { ttlMs })` set it too.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { runCli as cli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

type Put = { revision: number; expiresAtMs?: number };

async function put(url: (p: string) => string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Put & { error?: { code: string } } }> {
  const res = await fetch(url(`/v1/kv/${key}`), { method: 'PUT', headers, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Put & { error?: { code: string } } };
}

const exists = async (url: (p: string) => string, key: string) => (await fetch(url(`/v1/kv/${key}`))).status === 200;

test('a key with a TTL is deleted once its expiry has passed, not before; a put without one ends it', async (t) => {
  const { url } = await singleNode(t);
  const before = Date.now();
  const kept = await put(url, 'kept', { value: 1, ttlMs: 300 });
  t.is(kept.status, 200);
  t.true(kept.json.expiresAtMs! >= before + 300 && kept.json.expiresAtMs! <= Date.now() + 300);
  t.is((await put(url, 'kept', { value: 2 })).status, 200, 'written again without a TTL');
  const gone = await put(url, 'gone', { value: 1, ttlMs: 400 });
  t.true(await exists(url, 'gone'));
  let seenGoneAt = 0;
  await pollUntil(async () => !(await exists(url, 'gone')) && (seenGoneAt = Date.now()) > 0, 'the key with a TTL to be deleted', 10_000);
  t.true(seenGoneAt >= gone.json.expiresAtMs!, 'not before its expiry');
  t.true(await exists(url, 'kept'), 'an Expire entry past its old expiry left it');
  const metrics = await (await fetch(url('/metrics'))).text();
  t.regex(metrics, /\nquorumkv_kv_keys_expired_total 1\n/);
  t.regex(metrics, /\nquorumkv_kv_ttl_keys 0\n/);
});

test('a repeated Idempotency-Key gets the first answer; bad TTLs are invalid_ttl and write nothing', async (t) => {
  const { url } = await singleNode(t);
  const headers = { 'idempotency-key': 'ttl-put-1' };
  const first = await put(url, 'k', { value: 1, ttlMs: 60_000 }, headers);
  const again = await put(url, 'k', { value: 1, ttlMs: 60_000 }, headers);
  t.deepEqual(again.json, first.json);
  t.is((await put(url, 'k', { value: 1, ttlMs: 30_000 }, headers)).json.error?.code, 'idempotency_key_reused', 'another TTL is another write');
  for (const ttlMs of [0, -1, 1.5, 'x', null, 366 * 24 * 3600 * 1000]) {
    const bad = await put(url, 'bad', { value: 1, ttlMs });
    t.is(bad.status, 400, String(ttlMs));
    t.is(bad.json.error?.code, 'invalid_ttl');
  }
  t.false(await exists(url, 'bad'));
});

test('quorumkv put --ttl and the client\'s put with ttlMs', async (t) => {
  const { url } = await singleNode(t);
  const out = await cli(['put', 'c', '{"n":1}', '--ttl', '1h', '--endpoint', url('')]);
  t.is(out.code, 0, out.stderr);
  t.true((JSON.parse(out.stdout) as Put).expiresAtMs! > Date.now() + 3_500_000);
  t.regex((await cli(['put', 'c', '1', '--ttl', '0s', '--endpoint', url('')])).stderr, /--ttl/);
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const written = await client.put('l', { n: 2 }, { ttlMs: 200 });
  t.true(written.expiresAtMs! > Date.now());
  t.like(await client.getWithTtl('l'), { key: 'l', value: { n: 2 }, expiresAtMs: written.expiresAtMs });
  await pollUntil(async () => (await client.get('l')) === undefined, 'the client\'s key with a TTL to be deleted', 10_000);
  t.is(await client.getWithTtl('l'), undefined);
  t.pass();
});

test('batch items take ttlMs: each answer names its expiry; a bad TTL fails its item alone', async (t) => {
  const { url } = await singleNode(t);
  const ops = [
    { op: 'put', key: 'b/1', value: 1, ttlMs: 200 },
    { op: 'put', key: 'b/2', value: 2 },
    { op: 'put', key: 'b/3', value: 3, ttlMs: 0 },
    { op: 'delete', key: 'b/2x', ttlMs: 5 },
  ];
  const res = await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops }) });
  const { results } = (await res.json()) as { results: (Put & { error?: { code: string } })[] };
  t.true(results[0].expiresAtMs! > Date.now() - 1000);
  t.is(results[1].expiresAtMs, undefined);
  t.is(results[2].error?.code, 'invalid_ttl');
  t.is(results[3].error?.code, 'invalid_ttl');
  await pollUntil(async () => !(await exists(url, 'b/1')), 'the batch item with a TTL to be deleted', 10_000);
  t.true(await exists(url, 'b/2'));
  t.false(await exists(url, 'b/3'));
});

test('a txn takes a lock key with a TTL and its data in one step; bad txn TTLs are invalid_ttl', async (t) => {
  const { url } = await singleNode(t);
  const txn = (body: unknown) => fetch(url('/v1/txn'), { method: 'POST', body: JSON.stringify(body) });
  const res = await txn({ compare: [{ key: 'lk', exists: false }], success: [{ op: 'put', key: 'lk', value: 'me', ttlMs: 200 }, { op: 'put', key: 'job', value: 1 }] });
  const answer = (await res.json()) as { succeeded: boolean; results: { expiresAtMs?: number }[] };
  t.true(answer.succeeded);
  t.true(answer.results[0].expiresAtMs! > 0);
  t.is(answer.results[1].expiresAtMs, undefined);
  await pollUntil(async () => !(await exists(url, 'lk')), 'the txn\'s key with a TTL to be deleted', 10_000);
  t.true(await exists(url, 'job'));
  for (const op of [{ op: 'put', key: 'x', value: 1, ttlMs: 0 }, { op: 'delete', key: 'x', ttlMs: 5 }]) {
    const bad = await txn({ compare: [], success: [op] });
    t.is(bad.status, 400);
    t.is(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_ttl');
  }
});

test('GET ?ttl=true answers the key with its expiry (null without a TTL); quorumkv get --ttl', async (t) => {
  const { url } = await singleNode(t);
  const { json } = await put(url, 'e', { value: { a: 1 }, ttlMs: 60_000 });
  const read = async (query: string) => {
    const res = await fetch(url(`/v1/kv/e${query}`));
    return { status: res.status, text: await res.text() };
  };
  t.deepEqual(await read('?ttl=true'), { status: 200, text: `{"key":"e","value":{"a":1},"revision":${json.revision},"expiresAtMs":${json.expiresAtMs}}` });
  t.deepEqual(await read('?ttl=true&consistency=stale'), await read('?ttl=true'));
  t.is((await read('')).text, `{"key":"e","value":{"a":1},"revision":${json.revision}}`, 'without ?ttl the answer is as before');
  await put(url, 'e', { value: 2 });
  t.regex((await read('?ttl=true')).text, /"expiresAtMs":null\}$/, 'a put without a TTL ended it');
  t.is((await read('?ttl=maybe')).status, 400);
  t.is((await fetch(url('/v1/kv/none?ttl=true'))).status, 404);
  await put(url, 'c', { value: 1, ttlMs: 60_000 });
  const out = await cli(['get', 'c', '--ttl', '--endpoint', url('')]);
  t.regex(out.stdout, /"expiresAtMs": \d+/);
});
