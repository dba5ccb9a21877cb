/**
 * HTTP/2 on the core stream API (`ts/api/h2_exchange.ts`): HEAD answers are headers only, and
 * streams the client resets — before the answer or in the middle of a watch — cost nothing.
 * (Answers sent before the body was read drain it: test/fuzz/http.test.ts counts the resets.)
 */
import { type ClientHttp2Session, connect as h2connect, constants } from 'node:http2';
import test from 'ava';
import { singleNode } from '../helpers/single_node';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function call(session: ClientHttp2Session, method: string, path: string, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': method, ':path': path }, { endStream: body === undefined });
    let headers: Record<string, unknown> = {};
    let text = '';
    stream.on('response', (h) => (headers = h));
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve({ status: Number(headers[':status'] ?? 0), headers, body: text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

function open(t: { teardown(fn: () => void): void }, port: number): ClientHttp2Session {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  t.teardown(() => session.destroy());
  return session;
}

test('HEAD over HTTP/2 answers with headers only, for an unknown route and a known one', async (t) => {
  const { port } = await singleNode(t);
  const session = open(t, port);
  const unknown = await call(session, 'HEAD', '/nowhere');
  t.is(unknown.status, 404);
  t.is(unknown.headers['content-type'], 'application/json');
  t.is(unknown.body, '');
  const key = await call(session, 'HEAD', '/v1/kv/k');
  t.is(key.status, 404, 'HEAD is GET without the content');
  t.is(key.body, '');
  const post = await call(session, 'HEAD', '/v1/txn');
  t.is(post.status, 405);
  t.is(post.headers.allow, 'POST');
  t.is(post.body, '');
});

test('streams reset by the client (before the answer, and in a watch) leave the node serving', async (t) => {
  const { port } = await singleNode(t);
  const session = open(t, port);
  for (let i = 0; i < 200; i++) {
    const stream = session.request({ ':method': 'PUT', ':path': `/v1/kv/r${i}` });
    stream.on('error', () => undefined);
    stream.write('{"value":');
    stream.close(constants.NGHTTP2_CANCEL);
  }
  const watch = session.request({ ':method': 'GET', ':path': '/v1/watch?prefix=w' });
  watch.on('error', () => undefined);
  const firstLine = new Promise<string>((resolve) => watch.once('data', (d: Buffer) => resolve(d.toString())));
  await new Promise<void>((resolve) => watch.once('response', () => resolve()));
  t.is((await call(session, 'PUT', '/v1/kv/w1', JSON.stringify({ value: 'a' }))).status, 200);
  t.regex(await firstLine, /w1/);
  watch.close(constants.NGHTTP2_CANCEL);
  // A fresh session: the node is healthy and the cancelled uploads applied nothing.
  const again = open(t, port);
  t.is((await call(again, 'GET', '/health')).status, 200);
  t.is((await call(again, 'GET', '/v1/kv/r0')).status, 404);
});
