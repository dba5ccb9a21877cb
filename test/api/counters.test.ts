/**
 * Counters: `PATCH /v1/kv/{key}` `{"op":"incr"}` and batch items `{"op":"incr"}` add in the
 * state machine — concurrent increments all count, a retried one (same Idempotency-Key) counts
 * once, a key's TTL stays — and refuse what is not a counter, with nothing applied.
 */
import test from 'ava';
import { singleNode } from '../helpers/single_node';

type Answer = { status: number; json: any; headers: Headers };

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

test('increments add up, from absent (0), by any step, concurrently', async (t) => {
  const { url } = await singleNode(t);
  const first = await call(url('/v1/kv/orders/next'), 'PATCH', { op: 'incr' });
  t.is(first.status, 200);
  t.like(first.json, { value: 1 });
  t.true(first.json.revision > 0);
  t.like((await call(url('/v1/kv/orders/next'), 'PATCH', { op: 'incr', by: -11 })).json, { value: -10 });
  // 200 concurrent increments (in few entries: one turn's writes share one): none lost, each value once.
  const answers = await Promise.all(Array.from({ length: 200 }, () => call(url('/v1/kv/orders/next'), 'PATCH', { op: 'incr', by: 2 })));
  t.true(answers.every((a) => a.status === 200));
  t.deepEqual(answers.map((a) => a.json.value as number).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => -8 + 2 * i));
  const stored = await call(url('/v1/kv/orders/next'), 'GET');
  t.is(stored.json.value, 390);
  // A counter is a plain integer value: a put may set it, then increments go on from it.
  await call(url('/v1/kv/orders/next'), 'PUT', { value: 9007199254740990 });
  t.like((await call(url('/v1/kv/orders/next'), 'PATCH', { op: 'incr' })).json, { value: 9007199254740991 });
});

test('a batch mixes increments with other writes; each item answers for itself', async (t) => {
  const { url } = await singleNode(t);
  await call(url('/v1/kv/text'), 'PUT', { value: 'seven' });
  const batch = await call(url('/v1/batch'), 'POST', {
    ops: [
      { op: 'incr', key: 'a', by: 5 },
      { op: 'put', key: 'b', value: 1 },
      { op: 'incr', key: 'text' },
      { op: 'incr', key: 'c', by: 1.5 },
      { op: 'incr', key: 'd', value: 1 },
    ],
  });
  t.is(batch.status, 200);
  const [a, b, text, c, d] = batch.json.results;
  t.like(a, { value: 5 });
  t.true(b.revision > 0);
  t.like(text, { error: { code: 'not_a_counter' } });
  t.like(c, { error: { code: 'invalid_body' } });
  t.like(d, { error: { code: 'invalid_body' } });
  t.is((await call(url('/v1/kv/text'), 'GET')).json.value, 'seven', 'a refused increment changes nothing');
});

test('a retried increment (same Idempotency-Key) counts once; the key keeps its TTL', async (t) => {
  const { url } = await singleNode(t);
  const headers = { 'idempotency-key': 'hit-1' };
  const once = await call(url('/v1/kv/hits'), 'PATCH', { op: 'incr', ttlMs: 60_000 }, headers);
  t.like(once.json, { value: 1 });
  const expiresAtMs = once.json.expiresAtMs as number;
  t.true(expiresAtMs > Date.now() + 50_000, 'the increment that creates the key sets its TTL');
  const again = await call(url('/v1/kv/hits'), 'PATCH', { op: 'incr', ttlMs: 60_000 }, headers);
  t.deepEqual(again.json, once.json);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  const later = await call(url('/v1/kv/hits'), 'PATCH', { op: 'incr', ttlMs: 1_000 });
  t.deepEqual(later.json, { value: 2, revision: later.json.revision, expiresAtMs }, 'a later increment keeps the TTL it found');
  t.is((await call(url('/v1/kv/hits?ttl=true'), 'GET')).json.expiresAtMs, expiresAtMs);
  t.is((await call(url('/v1/kv/hits'), 'PATCH', { op: 'incr', by: 3 }, headers)).status, 422, 'the key on another increment');
  await call(url('/v1/kv/hits'), 'PUT', { value: 10 });
  t.is((await call(url('/v1/kv/hits?ttl=true'), 'GET')).json.expiresAtMs, null, 'a put ends it, as any other write');
  t.deepEqual(Object.keys((await call(url('/v1/kv/hits'), 'PATCH', { op: 'incr' })).json).sort(), ['revision', 'value']);
});

test('what is not a counter, or would overflow one, is refused and nothing changes', async (t) => {
  const { url } = await singleNode(t);
  for (const value of ['x', 1.5, 10.0, [1], { n: 1 }, true, null, '1']) {
    await call(url('/v1/kv/v'), 'PUT', { value });
    const r = await call(url('/v1/kv/v'), 'PATCH', { op: 'incr' });
    if (value === 10.0) t.like(r.json, { value: 11 }, '10.0 is the JSON integer 10');
    else {
      t.is(r.status, 409, JSON.stringify(value));
      t.is(r.json.error.code, 'not_a_counter');
    }
  }
  await call(url('/v1/kv/big'), 'PUT', { value: -9007199254740991 });
  const over = await call(url('/v1/kv/big'), 'PATCH', { op: 'incr', by: -1 });
  t.is(over.status, 409);
  t.is(over.json.error.code, 'counter_overflow');
  t.is((await call(url('/v1/kv/big'), 'GET')).json.value, -9007199254740991);
  for (const [body, code] of [
    [{ op: 'incr', by: 2 ** 53 }, 'invalid_body'],
    [{ op: 'incr', by: '5' }, 'invalid_body'],
    [{ op: 'append', by: 1 }, 'invalid_op'],
    [{ by: 1 }, 'invalid_op'],
    [{ op: 'incr', step: 1 }, 'invalid_body'],
    [{ op: 'incr', ttlMs: 0 }, 'invalid_ttl'],
  ] as const) {
    const r = await call(url('/v1/kv/fresh'), 'PATCH', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.json.error.code, code, JSON.stringify(body));
  }
  t.is((await call(url('/v1/kv/fresh'), 'GET')).status, 404, 'no refused increment created the key');
});

test('a txn applies a fill once: compare its key absent, record it and add to the position and the count', async (t) => {
  const { url } = await singleNode(t);
  const fill = (id: string, qty: number) => ({
    compare: [{ key: `fills/${id}`, exists: false }],
    success: [
      { op: 'put', key: `fills/${id}`, value: { qty } },
      { op: 'incr', key: 'pos/AAPL', by: qty },
      { op: 'incr', key: 'fills-count' },
    ],
    failure: [{ op: 'get', key: `fills/${id}` }],
  });
  const first = await call(url('/v1/txn'), 'POST', fill('F1', 300));
  t.like(first.json, { succeeded: true, results: [{ op: 'put' }, { op: 'incr', key: 'pos/AAPL', value: 300 }, { op: 'incr', key: 'fills-count', value: 1 }] });
  t.like((await call(url('/v1/txn'), 'POST', fill('F2', -100))).json.results[1], { value: 200 });
  const again = await call(url('/v1/txn'), 'POST', fill('F1', 300));
  t.false(again.json.succeeded, 'a fill seen before changes nothing');
  t.is((await call(url('/v1/kv/pos/AAPL'), 'GET')).json.value, 200);
  t.is((await call(url('/v1/kv/fills-count'), 'GET')).json.value, 2);
  // A branch with an increment that cannot be added is refused whole: its put is not applied.
  await call(url('/v1/kv/label'), 'PUT', { value: 'x' });
  const bad = await call(url('/v1/txn'), 'POST', { compare: [], success: [{ op: 'put', key: 'fills/F3', value: 1 }, { op: 'incr', key: 'label' }] });
  t.is(bad.status, 409);
  t.is(bad.json.error.code, 'not_a_counter');
  t.is((await call(url('/v1/kv/fills/F3'), 'GET')).status, 404);
  for (const op of [{ op: 'incr', key: 'a', value: 1 }, { op: 'put', key: 'a', value: 1, by: 1 }, { op: 'incr', key: 'a', by: 0.5 }]) {
    const r = await call(url('/v1/txn'), 'POST', { compare: [], success: [op] });
    t.is(r.json.error?.code, 'invalid_body', JSON.stringify(op));
  }
  t.is((await call(url('/v1/txn'), 'POST', { compare: [], success: [{ op: 'incr', key: 'a' }, { op: 'incr', key: 'a' }] })).json.error.code, 'duplicate_key');
});
