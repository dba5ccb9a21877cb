/**
 * `quorumkv incr KEY [--by n] [--ttl d]`, `expire KEY --ttl d`, `persist KEY` and the client's
 * `incr`, `expire`, `persist`: counters and TTL changes through the CLI and the client library.
 */
import test from 'ava';
import { QuorumClient, QuorumClientError } from '../../ts/client';
import { runCli as cli } from '../helpers/cli';
import { singleNode } from '../helpers/single_node';

test('quorumkv incr adds, by a negative step too, and sets a TTL only on creation', async (t) => {
  const { url } = await singleNode(t);
  const endpoint = ['--endpoint', url('')];
  const first = await cli(['incr', 'seq/orders', '--ttl', '60s', ...endpoint]);
  t.is(first.code, 0, first.stderr);
  const answer = JSON.parse(first.stdout) as { value: number; expiresAtMs: number };
  t.is(answer.value, 1);
  t.true(answer.expiresAtMs > Date.now() + 50_000);
  const down = await cli(['incr', 'seq/orders', '--by', '-5', ...endpoint]);
  t.like(JSON.parse(down.stdout), { value: -4, expiresAtMs: answer.expiresAtMs });
  await cli(['put', 'name', '"x"', ...endpoint]);
  const refused = await cli(['incr', 'name', ...endpoint]);
  t.is(refused.code, 1);
  t.regex(refused.stdout, /not_a_counter/);
});

test('client.incr: calls made together each get their own value, in call order', async (t) => {
  const { url } = await singleNode(t);
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const values = await Promise.all([client.incr('c'), client.incr('c', 10), client.incr('d', -1, { ttlMs: 5_000 }), client.incr('c', 100)]);
  t.deepEqual(values.map((v) => v.value), [1, 11, -1, 111]);
  t.true(values[2].expiresAtMs! > Date.now());
  t.is((await client.get('c'))?.value, 111);
  await client.put('s', 'text');
  const err = await t.throwsAsync(client.incr('s'));
  t.true(err instanceof QuorumClientError && err.code === 'not_a_counter', String(err));
  const bad = await t.throwsAsync(client.incr('c', 0.5));
  t.true(bad instanceof QuorumClientError && bad.code === 'invalid_body', String(bad));
});

test('quorumkv expire and persist; client.expire and client.persist', async (t) => {
  const { url } = await singleNode(t);
  const endpoint = ['--endpoint', url('')];
  await cli(['put', 'hb/n1', '{"up":true}', ...endpoint]);
  const expire = await cli(['expire', 'hb/n1', '--ttl', '30s', ...endpoint]);
  t.is(expire.code, 0, expire.stderr);
  t.true((JSON.parse(expire.stdout) as { expiresAtMs: number }).expiresAtMs > Date.now() + 25_000);
  t.like(JSON.parse((await cli(['persist', 'hb/n1', ...endpoint])).stdout), { expiresAtMs: null });
  t.is((await cli(['persist', 'hb/none', ...endpoint])).code, 1);
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const [a, b] = await Promise.all([client.expire('hb/n1', 10_000), client.persist('hb/n1').catch((err: unknown) => err)]);
  t.true(a.expiresAtMs > Date.now());
  t.like(b, { expiresAtMs: null }, 'the later call applies after the earlier (the same key: separate entries, in order)');
  t.is((await client.getWithTtl('hb/n1'))?.expiresAtMs, null);
  const err = await t.throwsAsync(client.expire('hb/none', 1000));
  t.true(err instanceof QuorumClientError && err.code === 'not_found', String(err));
});
