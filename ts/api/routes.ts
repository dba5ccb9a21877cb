/**
 * The JSON API over one node. Handlers work for HTTP/1.1 and HTTP/2 alike (Node's compat API).
 *
 * Limits: keys ≤ `keyBytesMax` (4 KiB), values ≤ `valueBytesMax` (1 MiB), bodies ≤
 * `bodyBytesMax` (4 MiB), scan pages ≤ `scanLimitMax`, multi-get ≤ `multiGetKeysMax` keys.
 * Writes are acknowledged once applied (so conditional writes can answer); reads are
 * linearizable through ReadIndex unless `?consistency=stale`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { type Compare, decodeStored, Op, type TxnOp } from '../node/commands';
import { RESERVED_KEY_PREFIX, RESERVED_KEYS_END } from '../node/membership';
import type { RaftNode } from '../node/raft_node';
import { type PeerAddress, parsePeerAddress } from '../transport/peer';
import { badRequest, HttpError, toHttpError } from './errors';
import { addMember, listMembers, promoteMember, removeMember } from './members';

export const LIMITS = {
  keyBytesMax: 4096,
  valueBytesMax: 1 << 20,
  bodyBytesMax: 4 << 20,
  scanLimitMax: 1000,
  multiGetKeysMax: 1000,
  txnComparesMax: 128,
  txnOpsMax: 128,
};

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export interface ApiContext {
  node: RaftNode;
  /** This node's client address (host:port), reported in the member list. */
  client: PeerAddress;
}

export async function handle(ctx: ApiContext, req: Req, res: Res): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    // GET and DELETE carry no body here: skip the stream read on the hottest path.
    const body = method === 'GET' || method === 'DELETE' ? EMPTY : await readBody(req);
    const result = await route(ctx, method, url, body);
    if (result.raw !== undefined) sendRaw(res, result.status ?? 200, result.raw);
    else send(res, result.status ?? 200, result.body);
  } catch (err) {
    const e = toHttpError(err);
    send(res, e.status, { error: { code: e.code, message: e.message, ...e.details } }, e.headers);
  }
}

interface Reply {
  status?: number;
  body?: unknown;
  /** A JSON document already serialized (stored values are JSON text: no parse + stringify). */
  raw?: string;
}

const EMPTY = Buffer.alloc(0);

async function route(ctx: ApiContext, method: string, url: URL, body: Buffer): Promise<Reply> {
  const path = url.pathname;
  if (path === '/health') return allow(method, ['GET'], () => health(ctx));
  if (path === '/v1/cluster') return allow(method, ['GET'], () => ({ body: cluster(ctx) }));
  if (path === '/v1/cluster/leader') return allow(method, ['POST'], () => transferLeader(ctx, body));
  if (path === '/v1/cluster/members') return allow(method, ['GET', 'POST'], () => (method === 'GET' ? listMembers(ctx, url) : addMember(ctx, parseJson(body))));
  if (path.startsWith('/v1/cluster/members/')) {
    const [rawId, action, ...extra] = path.slice('/v1/cluster/members/'.length).split('/');
    const id = memberId(rawId);
    if (action === 'promote' && extra.length === 0) return allow(method, ['POST'], () => promoteMember(ctx, id));
    if (action === undefined) return allow(method, ['DELETE'], () => removeMember(ctx, id));
  }
  if (path === '/v1/kv') return allow(method, ['GET'], () => scan(ctx, url));
  if (path === '/v1/kv/get') return allow(method, ['POST'], () => multiGet(ctx, url, body));
  if (path === '/v1/txn') return allow(method, ['POST'], () => txn(ctx, body));
  if (path.startsWith('/v1/kv/')) {
    const key = keyFrom(path.slice('/v1/kv/'.length));
    if (method === 'PUT') return put(ctx, key, body);
    if (method === 'GET') return get(ctx, key, url);
    if (method === 'DELETE') return del(ctx, key, url);
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
  }
  throw new HttpError(404, 'route_not_found', `no route for ${method} ${path}`);
}

async function allow(method: string, methods: string[], f: () => Reply | Promise<Reply>): Promise<Reply> {
  if (!methods.includes(method)) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here (use ${methods.join(', ')})`);
  return f();
}

function keyFrom(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw badRequest('invalid_key', 'the key is not valid percent-encoding');
  }
  if (key.length === 0) throw badRequest('invalid_key', 'the key is empty');
  if (Buffer.byteLength(key) > LIMITS.keyBytesMax) throw badRequest('key_too_large', `keys are at most ${LIMITS.keyBytesMax} bytes`);
  refuseReserved(key);
  return key;
}

/** Keys starting with NUL hold the store's own state (the membership record). */
function refuseReserved(key: string, what = 'keys'): void {
  if (key.startsWith(RESERVED_KEY_PREFIX)) throw badRequest('invalid_key', `${what} starting with NUL (\\u0000) are reserved`);
}

/** `2`, `"2"` or `"n2"` → 2. */
export function memberId(raw: unknown): number {
  const m = /^n?(\d+)$/.exec(typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '');
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0 || id >= 2 ** 32) throw badRequest('invalid_member_id', `member ids look like 2 or "n2", got ${JSON.stringify(raw)}`);
  return id;
}

/** A `host:port` field of a request body (undefined when absent and optional). */
export function addressField(doc: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = doc[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw badRequest('invalid_body', `"${name}" must be "host:port"`);
  try {
    parsePeerAddress(v);
  } catch (err) {
    throw badRequest('invalid_body', `"${name}": ${(err as Error).message}`);
  }
  return v;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw badRequest('invalid_json', 'the request needs a JSON body');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function revisionArg(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw badRequest('invalid_revision', `${name} must be a non-negative integer`);
  return n;
}

async function put(ctx: ApiContext, key: string, body: Buffer): Promise<Reply> {
  const doc = parseJson(body);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest('invalid_body', 'the body must be an object {"value": ...}');
  if (!('value' in doc)) throw badRequest('missing_value', 'the body needs a "value"');
  const value = Buffer.from(JSON.stringify((doc as { value: unknown }).value));
  if (value.length > LIMITS.valueBytesMax) throw new HttpError(413, 'value_too_large', `values are at most ${LIMITS.valueBytesMax} bytes of JSON`);
  const ifRevision = revisionArg((doc as { ifRevision?: unknown }).ifRevision, 'ifRevision');
  const result = await ctx.node.propose({ op: Op.Put, key, value, ifRevision });
  if (result.kind === 'mismatch') throw mismatch(key, result.currentRevision);
  return { body: { revision: result.kind === 'put' ? result.revision : 0 } };
}

async function del(ctx: ApiContext, key: string, url: URL): Promise<Reply> {
  const ifRevision = revisionArg(url.searchParams.get('ifRevision') ?? undefined, 'ifRevision');
  const result = await ctx.node.propose({ op: Op.Delete, key, ifRevision });
  if (result.kind === 'mismatch') throw mismatch(key, result.currentRevision);
  if (result.kind !== 'delete') throw new HttpError(500, 'internal', 'unexpected apply result');
  return { body: { deleted: result.deleted, revision: result.revision } };
}

function mismatch(key: string, currentRevision: number): HttpError {
  return new HttpError(409, 'revision_mismatch', `${key} is at revision ${currentRevision}`, { revision: currentRevision });
}

export async function barrier(ctx: ApiContext, url: URL): Promise<void> {
  const consistency = url.searchParams.get('consistency') ?? 'linearizable';
  if (consistency === 'stale') return;
  if (consistency !== 'linearizable') throw badRequest('invalid_consistency', 'consistency is "linearizable" (default) or "stale"');
  await ctx.node.readBarrier();
}

function item(key: string, stored: Buffer): { key: string; value: unknown; revision: number } {
  const { revision, value } = decodeStored(stored);
  return { key, value: JSON.parse(value.toString('utf8')), revision };
}

async function get(ctx: ApiContext, key: string, url: URL): Promise<Reply> {
  await barrier(ctx, url);
  const stored = ctx.node.engine.get(key);
  if (!stored) throw new HttpError(404, 'not_found', `${key} does not exist`);
  const { revision, value } = decodeStored(stored);
  return { raw: `{"key":${JSON.stringify(key)},"value":${value.toString('utf8')},"revision":${revision}}` };
}

async function multiGet(ctx: ApiContext, url: URL, body: Buffer): Promise<Reply> {
  const doc = parseJson(body) as { keys?: unknown };
  const keys = doc?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && k.length > 0)) throw badRequest('invalid_body', 'the body must be {"keys": ["non-empty string", ...]}');
  if (keys.length > LIMITS.multiGetKeysMax) throw badRequest('too_many_keys', `at most ${LIMITS.multiGetKeysMax} keys per request`);
  if (keys.some((k) => Buffer.byteLength(k as string) > LIMITS.keyBytesMax)) throw badRequest('key_too_large', `keys are at most ${LIMITS.keyBytesMax} bytes`);
  for (const k of keys as string[]) refuseReserved(k);
  await barrier(ctx, url);
  const values = ctx.node.engine.multiGet(keys as string[]);
  return { body: { items: (keys as string[]).flatMap((k, i) => (values[i] ? [item(k, values[i]!)] : [])) } };
}

async function scan(ctx: ApiContext, url: URL): Promise<Reply> {
  const prefix = url.searchParams.get('prefix') ?? '';
  refuseReserved(prefix, 'prefixes');
  // The reserved keys sort first: a scan of user keys starts after them.
  const afterArg = url.searchParams.get('after') ?? undefined;
  const after = prefix === '' && (afterArg === undefined || afterArg < RESERVED_KEYS_END) ? RESERVED_KEYS_END : afterArg;
  const limitRaw = url.searchParams.get('limit');
  const limit = limitRaw === null ? 100 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.scanLimitMax) throw badRequest('invalid_limit', `limit must be an integer in 1..${LIMITS.scanLimitMax}`);
  await barrier(ctx, url);
  const page = await ctx.node.engine.scan({ prefix, after, limit });
  return { body: { items: page.items.map((kv) => item(kv.key.toString('utf8'), kv.value)), more: page.more } };
}

function checkKey(key: unknown, where: string): string {
  if (typeof key !== 'string' || key.length === 0) throw badRequest('invalid_key', `${where}: "key" must be a non-empty string`);
  if (Buffer.byteLength(key) > LIMITS.keyBytesMax) throw badRequest('key_too_large', `${where}: keys are at most ${LIMITS.keyBytesMax} bytes`);
  refuseReserved(key, `${where}: keys`);
  return key;
}

function jsonValue(v: unknown): Buffer {
  const value = Buffer.from(JSON.stringify(v));
  if (value.length > LIMITS.valueBytesMax) throw new HttpError(413, 'value_too_large', `values are at most ${LIMITS.valueBytesMax} bytes of JSON`);
  return value;
}

function txnOps(raw: unknown, where: string): TxnOp[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw badRequest('invalid_body', `"${where}" must be an array of ops`);
  if (raw.length > LIMITS.txnOpsMax) throw badRequest('too_many_ops', `at most ${LIMITS.txnOpsMax} ops per branch`);
  return raw.map((o: unknown, i) => {
    const op = o as { op?: unknown; key?: unknown; value?: unknown };
    const key = checkKey(op?.key, `${where}[${i}]`);
    if (op.op === 'put') {
      if (!('value' in op)) throw badRequest('missing_value', `${where}[${i}]: a put needs a "value"`);
      return { kind: 'put', key, value: jsonValue(op.value) };
    }
    if (op.op === 'delete') return { kind: 'delete', key };
    if (op.op === 'get') return { kind: 'get', key };
    throw badRequest('invalid_op', `${where}[${i}]: "op" must be "put", "delete" or "get"`);
  });
}

async function txn(ctx: ApiContext, body: Buffer): Promise<Reply> {
  const doc = parseJson(body) as { compare?: unknown; success?: unknown; failure?: unknown };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest('invalid_body', 'the body must be an object {"compare", "success", "failure"}');
  const rawCompare = doc.compare ?? [];
  if (!Array.isArray(rawCompare)) throw badRequest('invalid_body', '"compare" must be an array');
  if (rawCompare.length > LIMITS.txnComparesMax) throw badRequest('too_many_compares', `at most ${LIMITS.txnComparesMax} compares`);
  const compare: Compare[] = rawCompare.map((c: unknown, i) => {
    const cc = c as { key?: unknown; revision?: unknown; value?: unknown; exists?: unknown };
    const out: Compare = { key: checkKey(cc?.key, `compare[${i}]`) };
    if (cc.revision !== undefined) out.revision = revisionArg(cc.revision, `compare[${i}].revision`);
    if ('value' in cc) out.value = jsonValue(cc.value);
    if (cc.exists !== undefined) {
      if (typeof cc.exists !== 'boolean') throw badRequest('invalid_body', `compare[${i}].exists must be a boolean`);
      out.exists = cc.exists;
    }
    return out;
  });
  const success = txnOps(doc.success, 'success');
  const failure = txnOps(doc.failure, 'failure');
  const result = await ctx.node.propose({ op: Op.Txn, key: '', txn: { compare, success, failure } });
  if (result.kind !== 'txn') throw new HttpError(500, 'internal', 'unexpected apply result');
  return {
    body: {
      succeeded: result.succeeded,
      revision: result.revision,
      results: result.results.map((r) => {
        if (r.op !== 'get') return r;
        return r.found ? { op: 'get', key: r.key, value: JSON.parse(r.value!.toString('utf8')), revision: r.revision } : { op: 'get', key: r.key, found: false };
      }),
    },
  };
}

/** `POST /v1/cluster/leader {"id": 2 | "n2"}` → `{"leader", "term"}` once the move is seen. */
async function transferLeader(ctx: ApiContext, body: Buffer): Promise<Reply> {
  const doc = parseJson(body) as { id?: unknown };
  const raw = typeof doc === 'object' && doc !== null ? doc.id : undefined;
  const m = /^n?(\d+)$/.exec(typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '');
  if (!m) throw badRequest('invalid_body', 'the body must be {"id": <member id, e.g. 2 or "n2">}');
  const id = Number(m[1]);
  if (!ctx.node.members().voters.includes(id)) throw new HttpError(404, 'unknown_member', `n${id} is not a voting member`);
  const term = await ctx.node.transferLeadership(id);
  return { body: { leader: id, term } };
}

function cluster(ctx: ApiContext): unknown {
  const st = ctx.node.status();
  return {
    id: st.id,
    leader: st.leader || null,
    term: st.term,
    commitIndex: st.commitIndex,
    appliedIndex: st.appliedIndex,
    snapshotIndex: st.snapshotIndex,
    firstLogIndex: st.firstLogIndex,
    state: st.state,
    learner: st.learner,
    members: ctx.node.memberList(ctx.client),
  };
}

function health(ctx: ApiContext): Reply {
  const st = ctx.node.status();
  if (st.leader === 0) throw new HttpError(503, 'unavailable', 'no known leader', {}, { 'retry-after': '1' });
  return { body: { ok: true, leader: st.leader, term: st.term } };
}

/**
 * The whole body, through 'data'/'end' listeners (an async iterator over the request costs a
 * generator resumption and promises per chunk, on every write).
 */
function readBody(req: Req): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const settle = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', settle);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      // Past the limit, keep reading without storing so the client can receive the 413 (a
      // client that stops reading its socket while we answer early would see a reset). Beyond
      // 4× the limit, stop reading altogether: the connection is dropped.
      if (bytes > 4 * LIMITS.bodyBytesMax) {
        settle(bodyTooLarge());
        req.destroy();
      } else if (bytes <= LIMITS.bodyBytesMax) chunks.push(chunk);
    };
    const onEnd = () => settle(bytes > LIMITS.bodyBytesMax ? bodyTooLarge() : undefined);
    // Closed before its end (the client went away): there is no one to answer, but settle.
    const onClose = () => settle(new Error('the request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', settle);
    req.on('close', onClose);
  });
}

function bodyTooLarge(): HttpError {
  return new HttpError(413, 'body_too_large', `bodies are at most ${LIMITS.bodyBytesMax} bytes`);
}

function send(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const raw = jsonHeaders(text);
  for (const [name, value] of Object.entries(headers)) raw.push(name, value);
  (res as ServerResponse).writeHead(status, raw);
  res.end(text);
}

function sendRaw(res: Res, status: number, text: string): void {
  (res as ServerResponse).writeHead(status, jsonHeaders(text));
  res.end(text);
}

/**
 * Headers as a flat [name, value, ...] list: Node takes them as they are, where an object is
 * walked and each name checked and lower-cased again (less work; no speed-up beyond this
 * machine's noise was measured).
 */
function jsonHeaders(text: string): string[] {
  return ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))];
}
