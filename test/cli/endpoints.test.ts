/**
 * `--endpoint A,B,C` (or `QUORUMKV_ENDPOINTS`), as etcdctl's `--endpoints`: a command goes on to
 * the next member while one is unreachable, or does not answer within `--timeout-ms`. A write whose answer was lost is repeated there with
 * the same Idempotency-Key, so it is applied once; a request that is not safe to repeat is not.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { runCli as cli } from '../helpers/cli';
import { freePorts } from '../helpers/ports';
import { singleNode } from '../helpers/single_node';
import { callAny } from '../../ts/cli/http_client';

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A server on a free port, closed at the test's end; its URL. */
async function serve(t: ExecutionContext, server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a dead first endpoint is skipped, from the flag or QUORUMKV_ENDPOINTS; all dead names each', async (t) => {
  const { url } = await singleNode(t);
  const [dead1, dead2] = (await freePorts(2)).map((p) => `http://127.0.0.1:${p}`);
  const put = await cli(['put', 'k', '"v"', '--endpoint', `${dead1},${url('')}`]);
  t.is(put.code, 0, put.stderr);
  const got = await cli(['get', 'k'], { QUORUMKV_ENDPOINTS: `${dead1},${url('')}` });
  t.is(got.code, 0, got.stderr);
  t.regex(got.stdout, /"value": "v"/);
  const none = await cli(['get', 'k', '--endpoint', `${dead1},${dead2}`]);
  t.is(none.code, 2);
  t.regex(none.stderr, new RegExp(`no endpoint answered \\(${dead1}: .*ECONNREFUSED.*; ${dead2}: .*ECONNREFUSED`));
  t.regex((await cli(['get', 'k', '--endpoint', `${url('')},,`])).stderr, /expected URLs separated by commas/);
});

test('a write whose answer was lost is repeated on the next endpoint and applied once', async (t) => {
  const { url } = await singleNode(t);
  let first: { key?: string; answer?: unknown } = {};
  // Passes the write on to the node, then drops the connection: applied, its answer lost.
  const lossy = await serve(
    t,
    createServer((req) => {
      void (async () => {
        const key = req.headers['idempotency-key'] as string | undefined;
        const res = await fetch(url(req.url!), { method: req.method, headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) }, body: await body(req) });
        first = { key, answer: await res.json() };
        req.socket.destroy();
      })();
    }),
  );
  const put = await cli(['put', 'k', '{"n":1}', '--endpoint', `${lossy},${url('')}`]);
  t.is(put.code, 0, put.stderr);
  t.regex(first.key ?? '', /^cli-/);
  t.deepEqual(JSON.parse(put.stdout), first.answer, 'the first answer, not a second write');
  const stored = (await (await fetch(url('/v1/kv/k'))).json()) as { revision: number };
  t.is(stored.revision, (first.answer as { revision: number }).revision);
});

test('a request that may have arrived goes on only when repeating it is safe', async (t) => {
  const seen = { lossy: 0, live: 0 };
  const lossy = await serve(
    t,
    createServer((req) => {
      seen.lossy++;
      req.socket.destroy();
    }),
  );
  const live = await serve(
    t,
    createServer((_req, res) => {
      seen.live++;
      res.end('{}');
    }),
  );
  // (The POST first: once an endpoint answered, it is tried first.)
  await t.throwsAsync(callAny([lossy, live], '/v1/sessions', { method: 'POST', body: '{}' }), { message: /socket hang up/ });
  t.deepEqual(seen, { lossy: 1, live: 0 }, 'a POST without an Idempotency-Key is not sent twice');
  t.is((await callAny([lossy, live], '/v1/cluster')).status, 200, 'a read goes on');
  t.deepEqual(seen, { lossy: 2, live: 1 });
  t.is((await callAny([lossy, live], '/v1/cluster')).status, 200);
  t.deepEqual(seen, { lossy: 2, live: 2 }, 'the endpoint that answered is tried first');
});

test('a member that takes the connection but never answers is given up after --timeout-ms', async (t) => {
  const { url } = await singleNode(t);
  t.is((await fetch(url('/v1/kv/k'), { method: 'PUT', body: '{"value":"v"}' })).status, 200);
  const hung = await serve(t, createServer(() => undefined));
  // The limit applies to the live member too: high enough that a loaded CI host answers within it.
  const got = await cli(['get', 'k', '--timeout-ms', '1500', '--endpoint', `${hung},${url('')}`]);
  t.is(got.code, 0, got.stderr);
  t.regex(got.stdout, /"value": "v"/);
  const alone = await cli(['get', 'k', '--endpoint', hung], { QUORUMKV_TIMEOUT_MS: '300' });
  t.is(alone.code, 2);
  t.regex(alone.stderr, new RegExp(`${hung} did not answer within 300 ms`));
});

test('a member that answers 503 (cut off from the leader) hands a read or a keyed write to the next', async (t) => {
  const { url } = await singleNode(t);
  let refused = 0;
  const cutOff = await serve(
    t,
    createServer((_req, res) => {
      refused++;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"unavailable","message":"no leader to accept the write; retry"}}');
    }),
  );
  const endpoint = ['--endpoint', `${cutOff},${url('')}`];
  t.is((await cli(['put', 'k', '"v"', ...endpoint])).code, 0);
  t.regex((await cli(['get', 'k', ...endpoint])).stdout, /"value": "v"/);
  t.is(refused, 2);
  // Not a request that is unsafe to repeat (it could have been applied before a 503): its answer is the 503.
  const res = await callAny([cutOff, url('')], '/v1/sessions', { method: 'POST', body: '{}' });
  t.is(res.status, 503);
  t.is(refused, 3);
  // Every member answering 503: the last answer is printed.
  const all = await cli(['get', 'k', '--endpoint', `${cutOff},${cutOff}`]);
  t.is(all.code, 1);
  t.regex(all.stdout, /"code": "unavailable"/);
});
