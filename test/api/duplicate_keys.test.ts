/**
 * A key is written at most once per log entry, since the entry's index is each write's
 * revision: a second write of a key in one batch fails alone (`duplicate_key`), a txn branch
 * writing a key twice is refused whole, and the client library sends two same-turn writes of a
 * key in separate batches. Otherwise both writers would be answered with one revision that names
 * only the second value, and a CAS on the first writer's answer would pass against a value it
 * never wrote.
 */
import test from 'ava';
import { QuorumClient, QuorumClientError } from '../../ts/client';
import { type Proc, ProcCluster } from '../cluster/procs';
import { singleNode } from '../helpers/single_node';
import { tempDir } from '../helpers/tmp';

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

test('a batch writing a key twice: the second item fails alone, in the compact shape and the general one', async (t) => {
  const { url } = await singleNode(t);
  // JSON.stringify's shape (the addon's fast path) and the same items with spaces (the general path).
  const ops = [{ op: 'put', key: 'a', value: 1 }, { op: 'put', key: 'b', value: 2 }, { op: 'delete', key: 'a' }];
  for (const body of [JSON.stringify({ ops }), JSON.stringify({ ops }, null, 1)]) {
    const { status, json } = await post(url('/v1/batch'), body);
    t.is(status, 200);
    const [first, second, third] = json.results as Record<string, unknown>[];
    t.deepEqual(second, { revision: first.revision });
    t.like(third, { error: { code: 'duplicate_key' } });
    t.regex((third.error as { message: string }).message, /ops\[2\] writes "a" again \(ops\[0\] does\)/);
    t.like(await (await fetch(url('/v1/kv/a'))).json(), { value: 1, revision: first.revision });
  }
});

test('a txn branch writing a key twice is refused whole; a read of its own write is not a second write', async (t) => {
  const { url } = await singleNode(t);
  const refused = await post(url('/v1/txn'), { success: [{ op: 'put', key: 't', value: 1 }, { op: 'get', key: 't' }, { op: 'delete', key: 't' }] });
  t.is(refused.status, 400);
  t.like(refused.json, { error: { code: 'duplicate_key' } });
  t.is((await fetch(url('/v1/kv/t'))).status, 404, 'nothing of it applied');
  const ok = await post(url('/v1/txn'), { success: [{ op: 'put', key: 't', value: 1 }, { op: 'get', key: 't' }], failure: [{ op: 'delete', key: 't' }] });
  t.is(ok.status, 200);
  t.like(ok.json, { succeeded: true, results: [{ op: 'put' }, { op: 'get', value: 1 }] });
});

test('the client sends two same-turn writes of a key in two batches: a CAS on the older answer fails', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t), 1);
  const client = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')) });
  t.teardown(() => client.close());
  const [a, b] = await Promise.all([client.put('k', 'A'), client.put('k', 'B')]);
  t.not(a.revision, b.revision, 'each write has a revision of its own');
  const [older, newer] = a.revision < b.revision ? [a, b] : [b, a];
  t.like(await client.get('k'), { value: newer === a ? 'A' : 'B', revision: newer.revision });
  const err = await t.throwsAsync(client.put('k', 'C', { ifRevision: older.revision }));
  t.true(err instanceof QuorumClientError);
  t.is((err as QuorumClientError).code, 'revision_mismatch');
});
