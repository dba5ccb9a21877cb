/**
 * `DELETE /v1/kv?prefix=P[&limit=n]` over HTTP, the CLI's `del --prefix` and the client's
 * `deletePrefix`: bounded parts, each atomic, `more` while keys may be left; a repeated
 * Idempotency-Key gets the first answer and deletes nothing more; bad requests are coded errors.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { runCli as cli } from '../helpers/cli';
import { singleNode } from '../helpers/single_node';

type Answer = { deleted: number; more: boolean; revision: number };

async function putAll(url: (p: string) => string, keys: string[]): Promise<void> {
  const ops = keys.map((key) => ({ op: 'put', key, value: 1 }));
  const res = await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops }) });
  if (res.status !== 200) throw new Error(`batch answered ${res.status}: ${await res.text()}`);
}

async function userKeys(url: (p: string) => string): Promise<string[]> {
  const page = (await (await fetch(url('/v1/kv?limit=1000'))).json()) as { items: { key: string }[] };
  return page.items.map((i) => i.key);
}

const pad = (i: number) => String(i).padStart(3, '0');

test('parts of `limit` keys in key order, `more` until none is left; other prefixes untouched', async (t) => {
  const { url } = await singleNode(t);
  await putAll(url, [...Array.from({ length: 25 }, (_, i) => `p/${pad(i)}`), 'p', 'q/1', 'o/9']);
  const del = async (query: string) => {
    const res = await fetch(url(`/v1/kv?${query}`), { method: 'DELETE' });
    t.is(res.status, 200);
    return (await res.json()) as Answer;
  };
  t.like(await del('prefix=p/&limit=10'), { deleted: 10, more: true });
  t.deepEqual((await userKeys(url)).filter((k) => k.startsWith('p/')), Array.from({ length: 15 }, (_, i) => `p/${pad(i + 10)}`), 'the first ten in key order');
  // A key read (so in the read cache) and then deleted is gone for reads too.
  t.is((await fetch(url('/v1/kv/p/024'))).status, 200);
  const last = await del('prefix=p/');
  t.like(last, { deleted: 15, more: false });
  t.is((await fetch(url('/v1/kv/p/024'))).status, 404);
  t.deepEqual(await userKeys(url), ['o/9', 'p', 'q/1']);
  const none = await del('prefix=p/');
  t.like(none, { deleted: 0, more: false });
  t.true(none.revision > last.revision, 'each part is an entry of its own');
});

test('a repeated Idempotency-Key gets the first answer and deletes nothing more', async (t) => {
  const { url } = await singleNode(t);
  await putAll(url, ['r/1', 'r/2']);
  const send = () => fetch(url('/v1/kv?prefix=r/'), { method: 'DELETE', headers: { 'idempotency-key': 'del-r-1' } });
  const first = await send();
  const answer = (await first.json()) as Answer;
  t.like(answer, { deleted: 2, more: false });
  await putAll(url, ['r/3']);
  const again = await send();
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(await again.json(), answer);
  t.deepEqual(await userKeys(url), ['r/3'], 'the key written after the first delete is still there');
});

test('without a limit, a part is 1,000 keys', async (t) => {
  const { url } = await singleNode(t);
  const keys = Array.from({ length: 1_500 }, (_, i) => `d/${String(i).padStart(4, '0')}`);
  await putAll(url, keys.slice(0, 1000));
  await putAll(url, keys.slice(1000));
  const first = (await (await fetch(url('/v1/kv?prefix=d/'), { method: 'DELETE' })).json()) as Answer;
  t.like(first, { deleted: 1000, more: true });
  const page = (await (await fetch(url('/v1/kv?prefix=d/&limit=1'))).json()) as { items: { key: string }[] };
  t.is(page.items[0].key, 'd/1000');
});

test('bad range deletes are coded errors and delete nothing', async (t) => {
  const { url } = await singleNode(t);
  await putAll(url, ['k/1']);
  const cases: [string, number, string][] = [
    ['', 400, 'missing_prefix'],
    ['?prefix=%00members', 400, 'invalid_key'],
    ['?prefix=k/&limit=0', 400, 'invalid_limit'],
    ['?prefix=k/&limit=10001', 400, 'invalid_limit'],
    ['?prefix=k/&limit=x', 400, 'invalid_limit'],
    ['?prefix=k/&after=k/0', 400, 'invalid_query'],
    [`?prefix=${'k'.repeat(4097)}`, 400, 'key_too_large'],
  ];
  for (const [query, status, code] of cases) {
    const res = await fetch(url(`/v1/kv${query}`), { method: 'DELETE' });
    t.is(res.status, status, query);
    t.is(((await res.json()) as { error: { code: string } }).error.code, code, query);
  }
  t.deepEqual(await userKeys(url), ['k/1']);
});

test('quorumkv del --prefix and the client\'s deletePrefix delete every key of the prefix, part after part', async (t) => {
  t.timeout(60_000);
  const { url } = await singleNode(t);
  // More than one part (1,000 keys each, the server's default): 3,500 keys.
  const keys = Array.from({ length: 3_500 }, (_, i) => `big/${String(i).padStart(5, '0')}`);
  for (let i = 0; i < keys.length; i += 1000) await putAll(url, keys.slice(i, i + 1000));
  await putAll(url, ['keep', 'small/1', 'small/2']);
  const out = await cli(['del', 'big/', '--prefix', '--endpoint', url('')]);
  t.is(out.code, 0, out.stderr);
  t.like(JSON.parse(out.stdout), { deleted: 3_500 });
  t.deepEqual(await userKeys(url), ['keep', 'small/1', 'small/2']);
  t.regex((await cli(['del', 'small/', '--prefix', '--if-revision', '3', '--endpoint', url('')])).stderr, /--if-revision names one key/);

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  t.like(await client.deletePrefix('small/'), { deleted: 2 });
  t.deepEqual(await userKeys(url), ['keep']);
});
