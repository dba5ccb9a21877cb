/**
 * `quorumkv incr KEY [--by n] [--ttl d]` and `client.incr(key, by, { ttlMs })`: counters through
 * the CLI and the client library.
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
