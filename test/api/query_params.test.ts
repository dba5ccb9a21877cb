/**
 * A query parameter a route does not take is 400 `invalid_query`, naming it, before anything is
 * read, written or streamed: a misspelt `fromRevision` must not start a watch at the present, a
 * misspelt `prefix` must not list the whole keyspace. The parameters each route does take keep
 * working, and the unversioned routes (health, metrics, dashboard) are not checked.
 */
import test from 'ava';
import { singleNode } from '../helpers/single_node';

async function call(url: string, method = 'GET', body?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, body });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text };
}

test('a misspelt parameter is refused by name on every kind of route', async (t) => {
  const { url } = await singleNode(t);
  const revision = (await call(url('/v1/kv/a'), 'PUT', '{"value":1}')).json.revision as number;
  for (const [path, method, name] of [
    ['/v1/watch?prefix=a&fromrevision=1', 'GET', 'fromrevision'],
    ['/v1/kv?prefx=orders/', 'GET', 'prefx'],
    ['/v1/kv?limt=1', 'GET', 'limt'],
    ['/v1/kv/a?consistancy=stale', 'GET', 'consistancy'],
    ['/v1/multiget?layuot=columns', 'POST', 'layuot'],
    ['/v1/md/ticks/X?afterseq=5', 'GET', 'afterseq'],
    ['/v1/md/books/X?dept=3', 'GET', 'dept'],
    ['/v1/md/stream?instrument=X', 'GET', 'instrument'],
    ['/v1/txn?dryRun=1', 'POST', 'dryRun'],
    ['/v1/cluster?verbose=1', 'GET', 'verbose'],
  ]) {
    const r = await call(url(path), method, method === 'POST' ? '{"keys":["a"],"success":[{"op":"put","key":"a","value":2}]}' : undefined);
    t.is(r.status, 400, path);
    t.is(r.json.error.code, 'invalid_query', path);
    t.regex(r.json.error.message, new RegExp(`"${name}"`), path);
  }
  t.is((await call(url('/v1/kv/a'))).json.revision, revision, 'nothing refused was applied (the txn was not run)');
});

test('the parameters a route takes still work; unversioned routes are not checked', async (t) => {
  const { url } = await singleNode(t);
  const revisions: number[] = [];
  for (const k of ['o/1', 'o/2', 'p/1']) revisions.push((await call(url(`/v1/kv/${k}`), 'PUT', '{"value":1}')).json.revision);
  const page = (await call(url('/v1/kv?prefix=o/&limit=1&after=o/1&consistency=stale'))).json;
  t.deepEqual(
    page.items.map((i: { key: string }) => i.key),
    ['o/2'],
  );
  t.is((await call(url('/v1/kv/o/1?consistency=stale'))).status, 200);
  t.is((await call(url('/v1/multiget?layout=positional&consistency=linearizable'), 'POST', '{"keys":["o/1"]}')).status, 200);
  t.is((await call(url(`/v1/kv/o/1?ifRevision=${revisions[0]}`), 'PUT', '{"value":2}')).status, 200);
  t.is((await call(url('/v1/cluster/members?consistency=stale'))).status, 200);
  t.is((await call(url('/v1/md/books/top?consistency=stale'), 'POST', '{"instruments":["X"]}')).status, 200);
  t.is((await call(url('/health?probe=lb'))).status, 200);
  // A bad value of a known parameter is a query error too, not a body error.
  for (const path of ['/v1/md/stream?instruments=', '/v1/md/stream?instruments=X&kinds=trades', '/v1/md/stream?instruments=X&fromSeq=-1', '/v1/md/books/X?at=1&seq=2', '/v1/md/books/X?seq=x', '/v1/md/books/X/vwap?side=up&qty=1', '/v1/md/books/X/vwap?side=buy&qty=0']) {
    t.is((await call(url(path))).json.error.code, 'invalid_query', path);
  }
  t.is((await call(url('/metrics?x=1'))).status, 200);
});
