/**
 * Generated HTTP requests for the API fuzz test: real routes and garbage ones, methods, odd
 * percent-encoding (NUL, invalid UTF-8, stray %), queries, headers, and bodies built from each
 * route's shape then damaged (truncated, deeply nested, huge numbers, invalid UTF-8, duplicate
 * keys, wrong types). Seeded: the same seed gives the same requests. Routes that stream forever
 * or change the membership are left out (they would end the run, not test it).
 */
import type { Random } from '../../ts/raft/random';

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

const pick = <T>(rng: Random, xs: readonly T[]): T => xs[rng.intn(xs.length)];
const METHODS = ['GET', 'GET', 'PUT', 'PUT', 'POST', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FROB'];
const KEY_PARTS = ['k', 'a/b', 'ü', '%00x', '%FF%FE', '%', '%zz', '%2F', 'x'.repeat(5000), '..', '%E2%82', 'k%20sp', '😀', ''];
const SEGMENTS = ['v1', 'kv', 'md', 'books', 'top', 'vwap', 'replay', 'cluster', 'members', 'x', '%00', '..', ''];

function key(rng: Random): string {
  return Array.from({ length: 1 + rng.intn(3) }, () => pick(rng, KEY_PARTS)).join('');
}

function path(rng: Random): string {
  const k = key(rng);
  const templates = [
    `/v1/kv/${k}`, `/v1/kv/${k}`, `/v1/kv/${k}`, '/v1/kv', '/v1/multiget', '/v1/kv/get', '/v1/txn', '/v1/txn', '/v1/batch', '/v1/batch', '/v1/sessions',
    '/v1/md/events', '/v1/md/events', `/v1/md/books/${k}`, `/v1/md/books/${k}/vwap`, '/v1/md/books/top', `/v1/md/ticks/${k}`, `/v1/md/bars/${k}`, '/v1/md/feeds', '/v1/md/replay',
    `/v1/md/replay/${k}/seek`, '/v1/cluster', `/v1/cluster/members/${k}`, '/v1/monitor', '/health', '/dashboard/../x', `/dashboard/${k}`,
    `/${Array.from({ length: rng.intn(5) }, () => pick(rng, SEGMENTS)).join('/')}`,
  ];
  let p = pick(rng, templates);
  if (rng.intn(3) === 0) p += `?${pick(rng, ['ifRevision', 'consistency', 'limit', 'prefix', 'after', 'depth', 'side', 'qty', 'afterSeq', 'at', 'seq', 'x'])}=${pick(rng, ['1', '-1', 'abc', 'stale', '1e999', '%00', '', '99999999999999999999', '0.5'])}`;
  return p;
}

/** The JSON a route expects, roughly right (so the handlers' checks, not only the parser's, run). */
function shapedBody(rng: Random, p: string): unknown {
  const value = pick(rng, [1, 'x', null, { a: [1, 2] }, 1e308, -0, [], 'ü😀']);
  if (p.startsWith('/v1/kv/')) return { value, ifRevision: pick(rng, [undefined, 0, 3, -1, 'x', 1.5, 2 ** 60]) };
  if (p.startsWith('/v1/multiget') || p === '/v1/kv/get') return { keys: Array.from({ length: rng.intn(4) }, () => pick(rng, ['a', '', 7, '\u0000m', 'k'])) };
  if (p.startsWith('/v1/txn')) return { compare: [{ key: pick(rng, ['a', '', 5]), revision: pick(rng, [undefined, 1, 'x']), value }], success: [{ op: pick(rng, ['put', 'get', 'delete', 'frob']), key: pick(rng, ['a', 'b', '']), value }], failure: pick(rng, [undefined, [], 'x']) };
  if (p.startsWith('/v1/batch')) return { ops: Array.from({ length: rng.intn(5) }, () => ({ op: pick(rng, ['put', 'delete', 'x']), key: pick(rng, ['a', 'b', '', 9]), value, idempotencyKey: pick(rng, [undefined, 'k1', 's1:1', 'bad key', '']) })) };
  if (p.startsWith('/v1/md/books/top')) return { instruments: pick(rng, [['A'], [], 'A', [1]]) };
  if (p.startsWith('/v1/md/replay')) return { at: pick(rng, [1, 'x', -5, '2026-01-01T00:00:00Z']) };
  return { kind: pick(rng, ['delta', 'trade', 'quote', 'x']), instrument: pick(rng, ['A', '', 5]), tsEvent: pick(rng, [1, -1, '18446744073709551616', 1.5]), producerId: 'f', producerSeq: rng.intn(5), action: 'add', side: pick(rng, ['bid', 'ask', 'x']), price: pick(rng, ['1.5', '1e3', '-0', 'x', '0.0000000001']), size: pick(rng, [1, -1, 'x', 2 ** 70]) };
}

function body(rng: Random, p: string): Buffer | undefined {
  if (rng.intn(8) === 0) return undefined;
  const text = JSON.stringify(shapedBody(rng, p)) ?? '';
  switch (rng.intn(9)) {
    case 0: return Buffer.from(text.slice(0, rng.intn(text.length + 1)));
    case 1: return Buffer.from('['.repeat(20_000 + rng.intn(50_000)));
    case 2: return Buffer.from(`{"value":${'9'.repeat(400)},"keys":[1e999]}`);
    case 3: return Buffer.concat([Buffer.from('{"value":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]);
    case 4: return Buffer.from('{"value":1,"value":2,"keys":["a"],"keys":3}');
    case 5: return Buffer.from(Array.from({ length: rng.intn(200) }, () => rng.intn(256)));
    case 6: return Buffer.from(`{"value":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
    default: return Buffer.from(p.startsWith('/v1/md/events') && rng.intn(2) === 0 ? `${text}\n${text}` : text);
  }
}

/** The methods a path's route takes (so half the requests reach a handler, not the 405). */
function routeMethods(p: string): string[] {
  const bare = p.split('?')[0];
  if (bare.startsWith('/v1/kv/')) return ['PUT', 'GET', 'DELETE', 'PATCH'];
  if (['/v1/txn', '/v1/batch', '/v1/sessions', '/v1/multiget', '/v1/kv/get', '/v1/md/events', '/v1/md/books/top'].includes(bare) || bare.endsWith('/seek')) return ['POST'];
  return ['GET'];
}

export function fuzzRequest(rng: Random): FuzzRequest {
  const p = path(rng);
  const method = rng.intn(2) === 0 ? pick(rng, routeMethods(p)) : pick(rng, METHODS);
  const headers: Record<string, string> = {};
  if (rng.intn(2) === 0) headers['content-type'] = pick(rng, ['application/json', 'application/x-ndjson', 'application/octet-stream', 'text/plain', 'x/y; charset=zz']);
  if (rng.intn(6) === 0) headers['idempotency-key'] = pick(rng, ['k-1', 's1:1', 's99999:3', 'x'.repeat(200), '~~']);
  if (rng.intn(8) === 0) headers.accept = pick(rng, ['text/event-stream', 'application/x-ndjson', '*/*']);
  return { method, path: p, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body(rng, p) };
}
