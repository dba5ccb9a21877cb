/**
 * Routing: every key is reachable under /v1/kv/{key} (even `get`), malformed request targets
 * are 400 `invalid_path` (never 500), 405 answers carry `Allow`, and requests Node's HTTP/1.1
 * parser refuses still get our JSON error shape.
 */
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import test from 'ava';
import { singleNode } from '../helpers/single_node';

/** Sends raw bytes over HTTP/1.1 and returns the status line's code, headers and JSON body. */
function raw(port: number, request: string): Promise<{ status: number; headers: string; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
      try {
        resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) });
      } catch (err) {
        reject(new Error(`not a JSON answer: ${JSON.stringify(text)} (${(err as Error).message})`));
      }
    });
  });
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;

test('the key "get" is reachable by GET, PUT and DELETE; POST /v1/kv/get stays multi-get', async (t) => {
  const { url } = await singleNode(t);
  const put = await fetch(url('/v1/kv/get'), { method: 'PUT', body: JSON.stringify({ value: 'g' }) });
  t.is(put.status, 200);
  const read = await fetch(url('/v1/kv/get'));
  t.is(read.status, 200);
  t.like(await read.json(), { key: 'get', value: 'g' });
  const multi = await fetch(url('/v1/kv/get'), { method: 'POST', body: JSON.stringify({ keys: ['get', 'absent'] }) });
  t.deepEqual(((await multi.json()) as any).items.map((i: { key: string }) => i.key), ['get']);
  const moved = await fetch(url('/v1/multiget'), { method: 'POST', body: JSON.stringify({ keys: ['get'] }) });
  t.is(((await moved.json()) as any).items.length, 1);
  const del = await fetch(url('/v1/kv/get'), { method: 'DELETE' });
  t.like(await del.json(), { deleted: true });
  t.is((await fetch(url('/v1/kv/get'))).status, 404);
});

test('multi-get layouts: keyed lists the keys found, positional one item per key asked (null where absent), columns two arrays', async (t) => {
  const { url } = await singleNode(t);
  const put = async (key: string, value: unknown) => ((await (await fetch(url(`/v1/kv/${key}`), { method: 'PUT', body: JSON.stringify({ value }) })).json()) as { revision: number }).revision;
  const ra = await put('a', { n: 1 });
  const rb = await put('b', 'two');
  const multi = async (layout: string) => {
    const r = await fetch(url(`/v1/multiget${layout}`), { method: 'POST', body: JSON.stringify({ keys: ['a', 'absent', 'b', 'a'] }) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const keyed = [{ key: 'a', value: { n: 1 }, revision: ra }, { key: 'b', value: 'two', revision: rb }, { key: 'a', value: { n: 1 }, revision: ra }];
  const positional = [{ value: { n: 1 }, revision: ra }, null, { value: 'two', revision: rb }, { value: { n: 1 }, revision: ra }];
  // Both shapes of a key are cached side by side: each read in turn answers its own.
  t.deepEqual((await multi('')).body.items, keyed);
  t.deepEqual((await multi('?layout=positional')).body.items, positional);
  t.deepEqual((await multi('?layout=keyed')).body.items, keyed);
  t.deepEqual((await multi('?layout=positional')).body.items, positional);
  // A write drops both: the next reads answer the new value in either shape.
  const ra2 = await put('a', [3]);
  t.deepEqual((await multi('?layout=positional')).body.items[0], { value: [3], revision: ra2 });
  t.deepEqual((await multi('')).body.items[0], { key: 'a', value: [3], revision: ra2 });
  t.deepEqual((await multi('?layout=columns')).body, { values: [[3], null, 'two', [3]], revisions: [ra2, null, rb, ra2] });
  // The general path (a body the addon leaves to JSON: spaced) answers the same columns.
  const spaced = await fetch(url('/v1/multiget?layout=columns'), { method: 'POST', body: '{ "keys": ["b", "absent"] }' });
  t.deepEqual(await spaced.json(), { values: ['two', null], revisions: [rb, null] });
  const bad = await multi('?layout=rows');
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'invalid_layout');
});

test('malformed request targets are 400 invalid_path over HTTP/1.1', async (t) => {
  const { port } = await singleNode(t);
  for (const target of ['//%zz', '//#frag', '/v1/kv/%zz', '/v1/kv/%ff', '//', 'http://example.com/x']) {
    const r = await raw(port, get(target));
    if (target === '//') {
      t.is(r.status, 404, target);
      t.is(r.body.error.code, 'route_not_found');
    } else {
      t.is(r.status, 400, target);
      t.is(r.body.error.code, 'invalid_path', target);
    }
  }
});

test('malformed request targets are 400 invalid_path over HTTP/2', async (t) => {
  const { port } = await singleNode(t);
  const session = h2connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  for (const target of ['//%zz', '/v1/kv/%zz', '//x/%']) {
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = session.request({ ':path': target, ':method': 'GET' });
      let status = 0;
      let text = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d) => (text += d));
      req.on('end', () => resolve({ status, body: JSON.parse(text) }));
      req.on('error', reject);
    });
    t.is(answer.status, 400, target);
    t.is(answer.body.error.code, 'invalid_path', target);
  }
});

test('405 answers name the allowed methods in Allow', async (t) => {
  const { port } = await singleNode(t);
  const r = await raw(port, `POST /v1/kv/k HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  t.is(r.status, 405);
  t.is(r.body.error.code, 'method_not_allowed');
  t.regex(r.headers, /\r\nallow: get, put, delete, patch\b/);
  const c = await raw(port, `DELETE /v1/cluster HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  t.regex(c.headers, /\r\nallow: get\b/);
});

test('HEAD is GET without the content: status and headers, no body, nothing opened', async (t) => {
  const { port, url, node } = await singleNode(t);
  await fetch(url('/v1/kv/k'), { method: 'PUT', body: '{"value":"abc"}' });
  const head = (target: string) => fetch(url(target), { method: 'HEAD' });
  for (const [target, status] of [['/health', 200], ['/v1/kv/k', 200], ['/v1/kv/nope', 404], ['/v1/watch', 200], ['/v1/kv?prefx=a', 400]] as const) {
    const r = await head(target);
    t.is(r.status, status, target);
    t.is(await r.text(), '', target);
  }
  t.is(Number((await head('/v1/kv/k')).headers.get('content-length')), (await (await fetch(url('/v1/kv/k'))).text()).length, 'the length GET would send');
  t.is(node.feed.watcherCount, 0, 'a HEAD of a stream opens nothing');
  const txn = await raw(port, `HEAD /v1/txn HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`).catch((err: Error) => err.message);
  t.regex(String(txn), /405/);
  const c = await raw(port, `DELETE /v1/cluster HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  t.regex(c.headers, /\r\nallow: get, head\b/);
});

test('requests the HTTP/1.1 parser refuses get JSON errors: 400 invalid_request, 431 headers_too_large', async (t) => {
  const { port } = await singleNode(t);
  const bad = await raw(port, 'GET /v1/kv/k HTTP/1.1\r\nhost x\r\n\r\n');
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'invalid_request');
  const huge = await raw(port, `GET /v1/kv/k HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
  t.is(huge.status, 431);
  t.is(huge.body.error.code, 'headers_too_large');
});
