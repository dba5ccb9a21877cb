/**
 * Range reads (`GET /v1/kv`): pages of `[start, end)` or of a prefix, ascending and descending,
 * keys only, and counts — each compared with a model of the stored keys (sorted by their UTF-8
 * bytes, the engine's order), over seeded random ranges and page sizes.
 */
import test from 'ava';
import { bootstrapAdmin } from '../../ts/api/auth';
import { newToken } from '../../ts/auth/model';
import { singleNode } from '../helpers/single_node';
import { mulberry32 } from '../../ts/raft/random';

type Answer = { status: number; json: any };

async function call(url: string, method = 'GET', body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  return { status: res.status, json: await res.json() };
}

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
/** Keys whose JavaScript order differs from their byte order (U+FF61 vs an astral character). */
const KEYS = ['a', 'a/1', 'a/2', 'a/10', 'b', 'b/x', 'c', 'ｶ', '😀', 'z/0', 'z/1', 'z/2', 'zz'];

/** Every page of `query`, following `next`/the last key, as the keys listed. */
async function readAll(url: (p: string) => string, query: Record<string, string>): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams(after === undefined ? query : { ...query, after });
    const page = await call(url(`/v1/kv?${q}`));
    if (page.status !== 200) throw new Error(`${q} → ${page.status} ${JSON.stringify(page.json)}`);
    keys.push(...page.json.items.map((i: { key: string }) => i.key));
    if (!page.json.more) return keys;
    after = page.json.next;
  }
}

test('pages of ranges and prefixes, both ways, hold exactly the keys between the bounds', async (t) => {
  const { url } = await singleNode(t);
  const revisions = new Map<string, number>();
  for (const k of KEYS) revisions.set(k, (await call(url(`/v1/kv/${encodeURIComponent(k)}`), 'PUT', { value: { k } })).json.revision);
  const sorted = [...KEYS].sort(byBytes);
  const random = mulberry32(42);
  const rand = (): number => random.next();
  const pick = (): string => (rand() < 0.2 ? `${sorted[Math.floor(rand() * sorted.length)]}/` : sorted[Math.floor(rand() * sorted.length)]);
  for (let i = 0; i < 60; i++) {
    const limit = String(1 + Math.floor(rand() * 4));
    let query: Record<string, string>;
    let want: string[];
    if (rand() < 0.3) {
      const prefix = pick().slice(0, 1);
      query = { prefix, limit };
      want = sorted.filter((k) => k.startsWith(prefix));
    } else {
      const [lo, hi] = [pick(), pick()].sort(byBytes);
      if (lo === hi) continue;
      const open = rand() < 0.3;
      query = open ? { start: lo, limit } : { start: lo, end: hi, limit };
      want = sorted.filter((k) => byBytes(k, lo) >= 0 && (open || byBytes(k, hi) < 0));
    }
    t.deepEqual(await readAll(url, query), want, `ascending ${JSON.stringify(query)}`);
    t.deepEqual(await readAll(url, { ...query, reverse: 'true' }), [...want].reverse(), `descending ${JSON.stringify(query)}`);
    const { limit: _pageSize, ...bounds } = query;
    const counted = await call(url(`/v1/kv?${new URLSearchParams({ ...bounds, count: 'true' })}`));
    t.deepEqual(counted.json, { count: want.length, more: false }, `count ${JSON.stringify(query)}`);
  }
  // Keys only: keys and revisions, no values; the whole key space without bounds.
  const keysOnly = await call(url('/v1/kv?keysOnly=true&limit=1000'));
  t.deepEqual(keysOnly.json.items, sorted.map((key) => ({ key, revision: revisions.get(key) })));
  t.deepEqual((await call(url('/v1/kv?reverse=true&limit=2'))).json, { items: [{ key: '😀', value: { k: '😀' }, revision: revisions.get('😀') }, { key: 'ｶ', value: { k: 'ｶ' }, revision: revisions.get('ｶ') }], more: true, next: 'ｶ' });
  t.deepEqual((await call(url('/v1/kv?count=true'))).json, { count: KEYS.length, more: false }, 'reserved keys are not counted');
  t.deepEqual((await call(url('/v1/kv?count=true&start=z&end=zzz&after=z/1'))).json, { count: 2, more: false }, 'a count continues after `after`');
});

test('bad range reads are refused with their codes', async (t) => {
  const { url } = await singleNode(t);
  const refused = async (query: string, code: string): Promise<void> => {
    const r = await call(url(`/v1/kv?${query}`));
    t.is(r.status, 400, query);
    t.is(r.json.error.code, code, query);
  };
  await refused('prefix=a&start=b', 'invalid_query');
  await refused('start=b&end=a', 'invalid_query');
  await refused('start=b&end=b', 'invalid_query');
  await refused('start=a&end=', 'invalid_query');
  await refused('reverse=yes', 'invalid_query');
  await refused('count=true&limit=5', 'invalid_query');
  await refused('count=true&reverse=true', 'invalid_query');
  await refused('keysOnly=1', 'invalid_query');
  await refused('start=%00members', 'invalid_key');
  await refused('limit=0&start=a', 'invalid_limit');
});

test('a token allowed part of the key space reads its part of a range, and counts only ranges it may read whole', async (t) => {
  const n = await singleNode(t, {}, true, true);
  const admin = newToken();
  t.is(await bootstrapAdmin(n.node, admin), 'applied');
  for (const k of ['orders/1', 'orders/2', 'refdata/1', 'secret/1']) t.is((await call(n.url(`/v1/kv/${k}`), 'PUT', { value: 1 }, admin)).status, 200);
  t.is((await call(n.url('/v1/auth/roles/reader'), 'PUT', { permissions: [{ prefix: 'orders/', access: 'read' }, { prefix: 'refdata/', access: 'read' }] }, admin)).status, 200);
  const reader = (await call(n.url('/v1/auth/tokens'), 'POST', { subject: 'r', roles: ['reader'] }, admin)).json.token as string;
  const keys = async (query: string): Promise<string[]> => (await call(n.url(`/v1/kv?${query}`), 'GET', undefined, reader)).json.items.map((i: { key: string }) => i.key);
  t.deepEqual(await keys('start=orders/&end=secret/'), ['orders/1', 'orders/2', 'refdata/1']);
  t.deepEqual(await keys('start=orders/&end=secret/&reverse=true'), ['refdata/1', 'orders/2', 'orders/1']);
  t.deepEqual((await call(n.url('/v1/kv?start=orders/1&end=orders/3&count=true'), 'GET', undefined, reader)).json, { count: 2, more: false });
  const whole = await call(n.url('/v1/kv?start=orders/&end=secret/&count=true'), 'GET', undefined, reader);
  t.is(whole.status, 403);
  t.is(whole.json.error.code, 'permission_denied');
});
