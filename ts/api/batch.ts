/**
 * `POST /v1/batch {"ops":[{"op":"put","key","value","ifRevision"?,"idempotencyKey"?} |
 * {"op":"delete","key","ifRevision"?,"idempotencyKey"?} | {"op":"incr","key","by"?,"ttlMs"?,...} |
 * {"op":"expire","key","ttlMs",...} | {"op":"persist","key",...}, ...]}`: independent writes in one
 * proposal — one log entry, one answer per item — unlike a txn, which is all-or-nothing. An
 * item that is malformed, forbidden, conflicts (`revision_mismatch`), writes a key an earlier
 * item writes (`duplicate_key`) or is refused fails alone; the others apply. Answer:
 * `{"results":[{"revision"} | {"deleted","revision"} | {"error":{...}}, ...]}` in item order,
 * `"replayed": true` on an item answered from its idempotency key.
 *
 * Exactly-once per item (`idempotencyKey`) or for the whole batch (the `Idempotency-Key`
 * header, not both): a repeat of a keyed batch gets the first answer — same status and body,
 * plus `Idempotent-Replayed: true` — and applies nothing. One key and one kept answer per
 * batch is what the client library sends: per-item keys cost every node a lookup, a
 * fingerprint and a kept answer per write.
 *
 * Limit: `BATCH_OPS_MAX` items (and the request body limit).
 */
import { errorAnswer } from './errors';
import { QuorumError } from '../errors';
import type { WriteResult } from '../node/applier';
import { type BatchItem, Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { checkKey, jsonValue, KEY_BYTES_MAX, onlyFields, parseObject, revisionArg, VALUE_BYTES_MAX } from './args';
import { checkIdempotencyKey, refusedError, replayHeaders, writeMeta } from './exactly_once';
import type { Target } from './http';
import { mismatch, ttlArg, unexpected, writtenBody } from './kv';
import type { Reply } from './reply';
import { type Guard, OPEN_GUARD } from '../auth/guard';
import { compactBatch } from '../native';
import { rawValues } from './raw_values';
import { incrStep } from './counters';

export const BATCH_OPS_MAX = 1000;

type ItemAnswer = Record<string, unknown>;

function errorItem(err: unknown): ItemAnswer {
  return errorAnswer(err).body as ItemAnswer;
}

type ParsedItem = { item: BatchItem } | { failed: ItemAnswer };

const BATCH_FIELDS = new Set(['ops']);
const ITEM_FIELDS = new Set(['op', 'key', 'value', 'ifRevision', 'idempotencyKey', 'ttlMs', 'by']);

/**
 * One item of the body, checked on its own: a BatchItem, or the error that fails it.
 * `values`: the body's value texts (`rawValues`).
 */
function parseItem(raw: unknown, i: number, guard: Guard, values: Map<string, string>): ParsedItem {
  try {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new QuorumError('invalid_body', `ops[${i}] must be an object {"op", "key", ...}`);
    const o = raw as Record<string, unknown>;
    onlyFields(o, ITEM_FIELDS, `ops[${i}]`);
    const key = checkKey(o.key, `ops[${i}].key`);
    guard.check('kv', key, 'readwrite');
    const ifRevision = revisionArg(o.ifRevision, `ops[${i}].ifRevision`);
    const idem = o.idempotencyKey === undefined ? undefined : checkIdempotencyKey(o.idempotencyKey, `ops[${i}].idempotencyKey`);
    if (o.by !== undefined && o.op !== 'incr') throw new QuorumError('invalid_body', `ops[${i}]: only an incr takes "by"`);
    if (o.op === 'put') {
      if (!('value' in o)) throw new QuorumError('missing_value', `ops[${i}]: a put needs a "value"`);
      const item: BatchItem = { op: Op.Put, key, value: jsonValue(o.value, values.get(`ops.${i}.value`)), ifRevision, idem };
      if (o.ttlMs !== undefined) item.ttlMs = ttlArg(o.ttlMs, `ops[${i}].ttlMs`);
      return { item };
    }
    if (o.op === 'incr') {
      if ('value' in o) throw new QuorumError('invalid_body', `ops[${i}]: an incr takes "by", not "value"`);
      const item: BatchItem = { op: Op.Incr, key, value: Buffer.from(String(incrStep(o.by, `ops[${i}].by`))), ifRevision, idem };
      if (o.ttlMs !== undefined) item.ttlMs = ttlArg(o.ttlMs, `ops[${i}].ttlMs`);
      return { item };
    }
    if (o.op === 'expire' || o.op === 'persist') return { item: ttlItem(o, i, key, ifRevision, idem) };
    if (o.ttlMs !== undefined) throw new QuorumError('invalid_ttl', `ops[${i}]: a delete takes no ttlMs`);
    if (o.op === 'delete') return { item: { op: Op.Delete, key, ifRevision, idem } };
    throw new QuorumError('invalid_op', `ops[${i}]: "op" must be "put", "delete", "incr", "expire" or "persist"`);
  } catch (err) {
    return { failed: errorItem(err) };
  }
}

/** `{"op":"expire","key","ttlMs"}` or `{"op":"persist","key"}`: a TTL change of an existing key. */
function ttlItem(o: Record<string, unknown>, i: number, key: string, ifRevision: number | undefined, idem: string | undefined): BatchItem {
  if ('value' in o) throw new QuorumError('invalid_body', `ops[${i}]: an ${String(o.op)} takes no "value"`);
  if (o.op === 'persist') {
    if (o.ttlMs !== undefined) throw new QuorumError('invalid_ttl', `ops[${i}]: a persist takes no ttlMs`);
    return { op: Op.SetTtl, key, ifRevision, idem };
  }
  if (o.ttlMs === undefined) throw new QuorumError('invalid_ttl', `ops[${i}]: an expire needs "ttlMs"`);
  return { op: Op.SetTtl, key, ifRevision, idem, ttlMs: ttlArg(o.ttlMs, `ops[${i}].ttlMs`) };
}

/**
 * An item writing a key an earlier item of the batch writes fails alone (`duplicate_key`):
 * the batch is one entry, whose index is each write's revision, so two writes of one key would
 * both be answered with a revision that names only the second's value (a CAS on the first's
 * answer would then pass against a value it never wrote).
 */
function failRepeatedKeys(parsed: ParsedItem[]): ParsedItem[] {
  const first = new Map<string, number>();
  return parsed.map((p, i) => {
    if ('failed' in p) return p;
    const earlier = first.get(p.item.key);
    if (earlier === undefined) {
      first.set(p.item.key, i);
      return p;
    }
    return { failed: errorItem(new QuorumError('duplicate_key', `ops[${i}] writes ${JSON.stringify(p.item.key)} again (ops[${earlier}] does): a batch writes a key at most once`)) };
  });
}

/** While a disk alarm is raised, each item that adds data fails alone with `no_space` (node/space_guard.ts). */
function refuseAddingData(node: RaftNode, parsed: ParsedItem[]): ParsedItem[] {
  if (!node.space.alarmed) return parsed;
  return parsed.map((p) => {
    const refused = 'item' in p ? node.space.refusal(p.item) : undefined;
    return refused ? { failed: errorItem(refused) } : p;
  });
}

/** The answer of an item that was written (a put, delete, increment or TTL change); undefined for any other result. */
function writtenAnswer(r: WriteResult): ItemAnswer | undefined {
  if (r.kind !== 'put' && r.kind !== 'delete' && r.kind !== 'incr' && r.kind !== 'ttl') return undefined;
  return { ...writtenBody(r), ...(r.replayed ? { replayed: true } : {}) };
}

function itemAnswer(item: BatchItem, r: WriteResult): ItemAnswer {
  const written = writtenAnswer(r);
  if (written) return written;
  if (r.kind === 'mismatch') return { ...errorItem(mismatch(item.key, r.currentRevision)), ...(r.replayed ? { replayed: true } : {}) };
  if (r.kind === 'refused') return errorItem(new QuorumError(r.code, r.message));
  throw unexpected(r.kind);
}

export async function batch(node: RaftNode, body: Buffer, target: Target): Promise<Reply> {
  // Auth off (every key may be written), no disk alarm and the compact shape: the addon encodes the items.
  const itemsRaw = target.guard === OPEN_GUARD && !node.space.alarmed ? compactBatch(body, BATCH_OPS_MAX, KEY_BYTES_MAX, VALUE_BYTES_MAX) : undefined;
  if (itemsRaw) return compactBatchWrite(node, itemsRaw, target);
  const text = body.toString('utf8');
  const doc = parseObject(text, '{"ops": [...]}');
  onlyFields(doc, BATCH_FIELDS, 'the body');
  const ops = doc.ops;
  if (!Array.isArray(ops) || ops.length === 0) throw new QuorumError('invalid_body', 'the body must be {"ops": [{"op": "put"|"delete", "key", ...}, ...]} with at least one op');
  if (ops.length > BATCH_OPS_MAX) throw new QuorumError('too_many_ops', `at most ${BATCH_OPS_MAX} ops per batch`);
  const meta = writeMeta(target);
  const values = rawValues(text);
  const parsed = refuseAddingData(node, failRepeatedKeys(ops.map((raw: unknown, i) => parseItem(raw, i, target.guard, values))));
  const items = parsed.flatMap((p) => ('item' in p ? [p.item] : []));
  if (meta.idem !== undefined && items.some((it) => it.idem !== undefined)) throw new QuorumError('invalid_body', 'a batch with an Idempotency-Key header takes no idempotencyKey on its items');
  if (items.length === 0) return { body: { results: parsed.map((p) => ('failed' in p ? p.failed : {})) } };
  const atMs = meta.atMs ?? (items.some((it) => it.idem !== undefined || it.ttlMs !== undefined) ? Date.now() : undefined);
  const result = await node.propose({ op: Op.Batch, key: '', items, atMs, idem: meta.idem });
  if (result.kind === 'refused') throw refusedError(result);
  if (result.kind !== 'batch' || result.results.length !== items.length) throw unexpected(result.kind);
  let next = 0;
  const results = parsed.map((p) => {
    if ('failed' in p) return p.failed;
    const answer = itemAnswer(p.item, result.results[next]);
    next++;
    return answer;
  });
  return { body: { results }, headers: replayHeaders(result) };
}

/**
 * A batch whose items the addon encoded (`compactBatch`): plain puts and deletes of valid keys,
 * none conditional or keyed, so each item's answer is a revision (or a deletion) and none is
 * refused on its own; the Idempotency-Key header still covers the whole batch.
 */
async function compactBatchWrite(node: RaftNode, itemsRaw: Buffer, target: Target): Promise<Reply> {
  const meta = writeMeta(target);
  const count = itemsRaw.readUInt32LE(0);
  const result = await node.propose({ op: Op.Batch, key: '', itemsRaw, atMs: meta.atMs, idem: meta.idem });
  if (result.kind === 'refused') throw refusedError(result);
  if (result.kind !== 'batch' || result.results.length !== count) throw unexpected(result.kind);
  const results = result.results.map((r) => {
    const written = writtenAnswer(r);
    if (!written) throw unexpected(r.kind);
    return written;
  });
  return { body: { results }, headers: replayHeaders(result) };
}
