/**
 * TTL changes of existing keys: `PATCH /v1/kv/{key}` `{"op":"expire","ttlMs"}` and
 * `{"op":"persist"}` (and the same as batch items) set or end a key's TTL without writing it —
 * its value, revision and watchers untouched — and an expired key is deleted as with a put's TTL.
 */
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

type Answer = { status: number; json: any };

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  return { status: res.status, json: await res.json() };
}

test('expire gives a key a TTL without writing it; it is deleted at its expiry unless persisted', async (t) => {
  const { url } = await singleNode(t);
  const put = await call(url('/v1/kv/session/a'), 'PUT', { value: { trader: 'a' } });
  const before = Date.now();
  const expire = await call(url('/v1/kv/session/a'), 'PATCH', { op: 'expire', ttlMs: 300 });
  t.is(expire.status, 200);
  t.is(expire.json.revision, put.json.revision, 'the key was not written');
  t.true(expire.json.expiresAtMs >= before + 300 && expire.json.expiresAtMs <= Date.now() + 300);
  const got = await call(url('/v1/kv/session/a?ttl=true'), 'GET');
  t.deepEqual(got.json, { key: 'session/a', value: { trader: 'a' }, revision: put.json.revision, expiresAtMs: expire.json.expiresAtMs });
  await pollUntil(async () => (await call(url('/v1/kv/session/a'), 'GET')).status === 404, 'the key expired', 5_000);
  // Persisted before its expiry: it stays.
  await call(url('/v1/kv/session/b'), 'PUT', { value: 1, ttlMs: 400 });
  t.deepEqual((await call(url('/v1/kv/session/b'), 'PATCH', { op: 'persist' })).json.expiresAtMs, null);
  await call(url('/v1/kv/session/c'), 'PUT', { value: 1, ttlMs: 400 });
  await pollUntil(async () => (await call(url('/v1/kv/session/c'), 'GET')).status === 404, 'the other key expired', 5_000);
  t.is((await call(url('/v1/kv/session/b?ttl=true'), 'GET')).json.expiresAtMs, null);
});

test('a TTL change of an absent key is not_found; bad requests are refused; batches take them per item', async (t) => {
  const { url } = await singleNode(t);
  const absent = await call(url('/v1/kv/nope'), 'PATCH', { op: 'expire', ttlMs: 1000 });
  t.is(absent.status, 404);
  t.is(absent.json.error.code, 'not_found');
  t.is((await call(url('/v1/kv/nope'), 'PATCH', { op: 'persist' })).status, 404);
  await call(url('/v1/kv/k'), 'PUT', { value: 1 });
  for (const [body, code] of [
    [{ op: 'expire' }, 'invalid_ttl'],
    [{ op: 'expire', ttlMs: 0 }, 'invalid_ttl'],
    [{ op: 'persist', ttlMs: 5 }, 'invalid_body'],
    [{ op: 'expire', ttlMs: 5, by: 1 }, 'invalid_body'],
  ] as const) {
    const r = await call(url('/v1/kv/k'), 'PATCH', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.json.error.code, code, JSON.stringify(body));
  }
  t.is((await call(url('/v1/kv/k?ttl=true'), 'GET')).json.expiresAtMs, null, 'nothing refused applied');
  const batch = await call(url('/v1/batch'), 'POST', {
    ops: [
      { op: 'expire', key: 'k', ttlMs: 60_000 },
      { op: 'expire', key: 'missing', ttlMs: 60_000 },
      { op: 'persist', key: 'k2', value: 1 },
      { op: 'put', key: 'k3', value: 3, ttlMs: 60_000 },
    ],
  });
  const [k, missing, k2, k3] = batch.json.results;
  t.true(k.expiresAtMs > Date.now());
  t.like(missing, { error: { code: 'not_found' } });
  t.like(k2, { error: { code: 'invalid_body' } });
  t.true(k3.expiresAtMs > Date.now());
  t.deepEqual((await call(url('/v1/batch'), 'POST', { ops: [{ op: 'persist', key: 'k3' }] })).json.results[0], { revision: k3.revision, expiresAtMs: null });
  t.is((await call(url('/v1/kv/k?ttl=true'), 'GET')).json.expiresAtMs, k.expiresAtMs);
});
