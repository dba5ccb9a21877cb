/**
 * `POST /v1/maintenance/hash` commits a hash entry and answers this member's digest of the state
 * as of it; `GET ?index=` answers a kept digest again, and says why there is none.
 */
import test from 'ava';
import { HASHES_KEPT } from '../../ts/node/state_hashes';
import { singleNode } from '../helpers/single_node';

async function call(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('a hash is the digest of the state as of its entry, kept for the newest entries', async (t) => {
  const { url, node } = await singleNode(t);
  const put = await call(url('/v1/kv/a'), 'PUT', { value: { px: '101.25' } });
  const first = await call(url('/v1/maintenance/hash'), 'POST');
  t.is(first.status, 200, JSON.stringify(first.json));
  t.like(first.json, { member: 1, index: put.json.revision + 1 });
  t.deepEqual(await node.engine.stateDigest(), { index: first.json.index, sha256: first.json.sha256 }, 'the engine\'s own digest at that index');

  t.is((await call(url('/v1/kv/b'), 'PUT', { value: 2 })).status, 200);
  const second = await call(url('/v1/maintenance/hash'), 'POST', {});
  t.true(second.json.index > first.json.index);
  t.not(second.json.sha256, first.json.sha256);
  t.deepEqual((await call(url(`/v1/maintenance/hash?index=${first.json.index}`))).json, first.json, 'kept, answered again');

  const notHash = await call(url(`/v1/maintenance/hash?index=${put.json.revision}`));
  t.is(notHash.status, 404);
  t.like(notHash.json.error, { code: 'not_found', appliedIndex: node.status().appliedIndex });
  t.regex(notHash.json.error.message, /not a hash entry/);
  const ahead = await call(url(`/v1/maintenance/hash?index=${node.status().appliedIndex + 100}`));
  t.is(ahead.status, 404);
  t.regex(ahead.json.error.message, /applied entries through \d+ only/);
  t.is((await call(url('/v1/maintenance/hash'))).json.error.code, 'invalid_query');
  t.is((await call(url('/v1/maintenance/hash?index=x'))).json.error.code, 'invalid_revision');
  t.is((await call(url('/v1/maintenance/hash?at=1'))).json.error.code, 'invalid_query');
  t.is((await call(url('/v1/maintenance/hash'), 'POST', { index: 1 })).json.error.code, 'invalid_body');

  // The newest HASHES_KEPT are kept.
  for (let i = 0; i < HASHES_KEPT; i++) t.is((await call(url('/v1/maintenance/hash'), 'POST')).status, 200);
  t.is((await call(url(`/v1/maintenance/hash?index=${first.json.index}`))).status, 404);
  t.is((await call(url(`/v1/maintenance/hash?index=${second.json.index}`))).status, 404);
});
