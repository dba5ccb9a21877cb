/**
 * The key-value routes: put, get, delete, multi-get (range reads: ts/api/kv_range.ts). Writes are acknowledged once applied
 * (so conditional writes can answer), a turn's writes proposed together (ts/api/key_writes.ts);
 * reads are linearizable through ReadIndex unless `?consistency=stale`.
 *
 * Limits: multi-get ≤ `MULTI_GET_KEYS_MAX` keys, a range delete
 * ≤ `DELETE_RANGE_LIMIT_MAX` keys.
 */
import { QuorumError } from '../errors';
import { decodeStored, Op } from '../node/commands';
import { TTL_MS_MAX } from '../node/key_ttl';
import type { RaftNode } from '../node/raft_node';
import type { ApplyResult } from '../node/applier';
import type { AnswerLayout } from '../native';
import { OPEN_GUARD } from '../auth/guard';
import { checkKey, jsonValue, onlyFields, parseObject, revisionArg } from './args';
import { putValueText } from './raw_values';
import { compactKeyCount, compactKeys } from './compact_keys';
import { refusedError, replayHeaders, writeMeta } from './exactly_once';
import { KeyWrites } from './key_writes';
import type { Target } from './http';
import type { Reply } from './reply';

export const MULTI_GET_KEYS_MAX = 1000;
/** Keys one range delete deletes at most: every node's applier reads them on its thread. */
export const DELETE_RANGE_LIMIT_MAX = 10_000;
/**
 * A range delete's default `limit`. Other writes wait behind each part (log order): with parts
 * of 1,000 a concurrent writer's p50 was 7 ms against 32 ms with parts of 10,000, for 128K
 * against 327K keys deleted per second (`npm run bench:delete-prefix`).
 */
export const DELETE_RANGE_LIMIT_DEFAULT = 1_000;

const PUT_FIELDS = new Set(['value', 'ifRevision', 'ttlMs']);

export async function put(node: RaftNode, key: string, body: Buffer, target: Target): Promise<Reply> {
  const text = body.toString('utf8');
  const doc = parseObject(text, '{"value": ...}');
  if (!('value' in doc)) throw new QuorumError('missing_value', 'the body needs a "value"');
  onlyFields(doc, PUT_FIELDS, 'the body');
  const value = jsonValue(doc.value, putValueText(text, Object.keys(doc).length));
  const ifRevision = conditionArg(doc.ifRevision, target.query.get('ifRevision') ?? undefined);
  const { idem, atMs } = writeMeta(target);
  if (doc.ttlMs === undefined) return written(key, await KeyWrites.of(node).write({ op: Op.Put, key, value, ifRevision, idem }, atMs));
  // Its expiry: the entry's clock plus the TTL (an entry with a TTL carries the clock).
  return written(key, await KeyWrites.of(node).write({ op: Op.Put, key, value, ifRevision, idem, ttlMs: ttlArg(doc.ttlMs, 'ttlMs') }, atMs ?? Date.now()));
}

/** A put's TTL: an integer number of milliseconds in 1..`TTL_MS_MAX`. */
export function ttlArg(raw: unknown, where: string): number {
  if (!Number.isInteger(raw) || (raw as number) < 1 || (raw as number) > TTL_MS_MAX) throw new QuorumError('invalid_ttl', `${where} must be an integer in 1..${TTL_MS_MAX} (a year)`);
  return raw as number;
}

/** A put's `ifRevision`, from the body or the query (as a delete takes it); both must agree. */
function conditionArg(inBody: unknown, inQuery: string | undefined): number | undefined {
  const body = revisionArg(inBody, 'ifRevision');
  const query = revisionArg(inQuery, 'ifRevision');
  if (body !== undefined && query !== undefined && body !== query) throw new QuorumError('invalid_revision', `ifRevision is ${body} in the body and ${query} in the query`);
  return body ?? query;
}

export async function del(node: RaftNode, key: string, target: Target): Promise<Reply> {
  const ifRevision = revisionArg(target.query.get('ifRevision') ?? undefined, 'ifRevision');
  const { idem, atMs } = writeMeta(target);
  return written(key, await KeyWrites.of(node).write({ op: Op.Delete, key, ifRevision, idem }, atMs));
}

/**
 * `DELETE /v1/kv?prefix=P[&limit=N]`: deletes the first `limit` keys starting with `P` (in key
 * order, as they are when the entry applies; an empty prefix: every key) at one revision, and
 * answers `{"deleted", "more", "revision"}`. Bounded per request, so one entry never holds an
 * unbounded delete: a caller deletes again while `more` (etcdctl's `del --prefix`, in parts).
 * Watchers see one delete event per key.
 */
export async function deletePrefix(node: RaftNode, target: Target): Promise<Reply> {
  const query = target.query;
  const prefix = query.get('prefix');
  if (prefix === null) throw new QuorumError('missing_prefix', 'a range delete names its keys with ?prefix= (an empty prefix: every key)');
  if (prefix !== '') checkKey(prefix, 'prefix');
  target.guard.check('kv', prefix, 'readwrite');
  const limitRaw = query.get('limit');
  const limit = limitRaw === null ? DELETE_RANGE_LIMIT_DEFAULT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > DELETE_RANGE_LIMIT_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${DELETE_RANGE_LIMIT_MAX}`);
  const result = await node.propose({ op: Op.DeleteRange, key: prefix, limit, ...writeMeta(target) });
  if (result.kind === 'refused') throw refusedError(result);
  if (result.kind !== 'range') throw unexpected(result.kind);
  return { headers: replayHeaders(result), body: { deleted: result.deleted, more: result.more, revision: result.revision } };
}

/** The answer to a put or delete of `key` (a replay answers alike, with its header). */
export function written(key: string, result: ApplyResult): Reply {
  if (result.kind !== 'put' && result.kind !== 'delete' && result.kind !== 'incr' && result.kind !== 'ttl' && result.kind !== 'mismatch' && result.kind !== 'refused') throw unexpected(result.kind);
  const headers = replayHeaders(result);
  if (result.kind === 'refused') throw refusedError(result);
  if (result.kind === 'mismatch') throw mismatch(key, result.currentRevision, headers);
  return { body: writtenBody(result), headers };
}

/**
 * A put's, delete's, increment's or TTL change's answer: `{"revision","expiresAtMs"?}`,
 * `{"deleted","revision"}`, `{"value","revision","expiresAtMs"?}`, `{"revision","expiresAtMs"}` (null: none).
 */
export function writtenBody(result: Extract<ApplyResult, { kind: 'put' | 'delete' | 'incr' | 'ttl' }>): Record<string, unknown> {
  if (result.kind === 'ttl') return { revision: result.revision, expiresAtMs: result.expiresAtMs };
  const expiry = result.kind !== 'delete' && result.expiresAtMs !== undefined ? { expiresAtMs: result.expiresAtMs } : {};
  if (result.kind === 'put') return { revision: result.revision, ...expiry };
  if (result.kind === 'incr') return { value: result.value, revision: result.revision, ...expiry };
  return { deleted: result.deleted, revision: result.revision };
}

export function mismatch(key: string, currentRevision: number, headers?: Record<string, string>): QuorumError {
  return new QuorumError('revision_mismatch', `${key} is at revision ${currentRevision}`, { details: { revision: currentRevision }, headers });
}

export function unexpected(kind: string): QuorumError {
  return new QuorumError('INVARIANT', `unexpected apply result ${kind}`);
}

let turnEnd: Promise<void> | undefined;

/**
 * Resolves once this event-loop turn's I/O callbacks have run (one shared `setImmediate` per
 * turn): the stale reads of a turn are then answered together, as a ReadIndex round's are.
 * Answered one by one, in each request's own callback, every answer's write found its client
 * asleep and paid to wake it (on loopback the sender runs the receiver's wake-up): under wrk the
 * leader spent more CPU per stale read than per linearizable read (writev 43% of its thread
 * against 24%, perf), and served fewer.
 */
function endOfTurn(): Promise<void> {
  turnEnd ??= new Promise((resolve) =>
    setImmediate(() => {
      turnEnd = undefined;
      resolve();
    }),
  );
  return turnEnd;
}

/**
 * A read barrier unless `?consistency=stale` (then the end of the turn, see `endOfTurn`); `keys`:
 * how many keys the read then serves.
 */
export async function barrier(node: RaftNode, query: URLSearchParams, keys = 1): Promise<void> {
  const consistency = query.get('consistency') ?? 'linearizable';
  if (consistency === 'stale') return endOfTurn();
  if (consistency !== 'linearizable') throw new QuorumError('invalid_consistency', 'consistency is "linearizable" (default) or "stale"');
  await node.readBarrier(keys);
}

/** An item's JSON text with its value's text as stored (not parsed and written back: numbers past a double would round). */
export function itemText(key: string, stored: Buffer): string {
  const { revision, value } = decodeStored(stored);
  return `{"key":${JSON.stringify(key)},"value":${value.toString('utf8')},"revision":${revision}}`;
}

export async function get(node: RaftNode, key: string, query: URLSearchParams): Promise<Reply> {
  const ttl = query.get('ttl');
  if (ttl !== null && ttl !== 'true' && ttl !== 'false') throw new QuorumError('invalid_query', 'ttl is "true" or "false"');
  if (ttl === 'true') return getWithExpiry(node, key, query);
  await barrier(node, query);
  const read = node.keys.readItems([key], 'keyed');
  const [answer] = Array.isArray(read) ? read : await read;
  if (answer === undefined) throw new QuorumError('not_found', `${key} does not exist`);
  return { raw: answer };
}

/** `GET /v1/kv/{key}?ttl=true`: the item with `"expiresAtMs"` (null: the key has no TTL), as etcd's `lease timetolive`. */
async function getWithExpiry(node: RaftNode, key: string, query: URLSearchParams): Promise<Reply> {
  await barrier(node, query);
  const [item, expiresAtMs] = await node.keys.readWithExpiry(key, 'keyed');
  if (item === undefined) throw new QuorumError('not_found', `${key} does not exist`);
  // The item is `{...}`: its expiry goes in before the closing brace.
  return { raw: `${item.slice(0, -1)},"expiresAtMs":${expiresAtMs ?? 'null'}}` };
}

/**
 * `layout=keyed` (the default): the items of the keys found, in the order asked, each with its
 * key. `layout=positional`: one item per key asked, in order, `null` where absent, without the
 * key — a client matching answers to its calls then parses no key strings (V8 interns short
 * ones: a tenth of a client's CPU under multi-gets). `layout=columns`:
 * `{"values":[…],"revisions":[…]}`, one entry per key asked, `null` in both where absent — two
 * arrays instead of an object per key, about half the client's parse. The read cache in the
 * addon lays out every answer: keyed and positional items are rendered (and kept rendered),
 * columns are copied from the stored bytes.
 */
function layoutOf(query: URLSearchParams): AnswerLayout {
  const layout = query.get('layout') ?? 'keyed';
  if (layout !== 'keyed' && layout !== 'positional' && layout !== 'columns') throw new QuorumError('invalid_layout', 'layout is "keyed" (default), "positional" or "columns"');
  return layout;
}

export async function multiGet(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const query = target.query;
  const layout = layoutOf(query);
  const text = body.toString('utf8');
  // The common body (compact, auth off): read, checked and answered in one call to the addon,
  // no string per key here. Anything else, or a key it refuses: the general path below.
  const count = target.guard === OPEN_GUARD ? compactKeyCount(text) : undefined;
  const fast = count !== undefined && count <= MULTI_GET_KEYS_MAX;
  if (fast) {
    await barrier(node, query, count);
    const answer = node.keys.multiGetAnswer(body, layout);
    if (answer !== undefined) return { raw: answer };
  }
  const keys = compactKeys(text) ?? parseObject(text, '{"keys": [...]}').keys;
  if (!Array.isArray(keys)) throw new QuorumError('invalid_body', 'the body must be {"keys": ["non-empty string", ...]}');
  if (keys.length > MULTI_GET_KEYS_MAX) throw new QuorumError('too_many_keys', `at most ${MULTI_GET_KEYS_MAX} keys per request`);
  const checked = keys.map((k, i) => checkKey(k, `keys[${i}]`));
  for (const k of checked) target.guard.check('kv', k, 'read');
  // (Past the barrier already when the addon left the body to this path: one round is enough.)
  if (!fast) await barrier(node, query, checked.length);
  const answer = node.keys.answerItems(checked, layout);
  return { raw: Buffer.isBuffer(answer) ? answer : await answer };
}
