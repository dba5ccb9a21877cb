/**
 * `PATCH /v1/kv/{key}`: a change of one key that is not a whole new value.
 *
 *   {"op":"incr","by"?:n,"ttlMs"?:ms}   adds `by` (default 1, may be negative) to the key's integer
 *                                       value (absent: 0) — Redis INCRBY — → {"value","revision","expiresAtMs"?}.
 *                                       Concurrent increments never conflict; with an Idempotency-Key a
 *                                       retried one counts once. The key keeps its TTL; `ttlMs` sets one only
 *                                       when the increment creates the key (ts/node/counters.ts). 409
 *                                       `not_a_counter`, `counter_overflow` past ±(2^53 − 1).
 *   {"op":"expire","ttlMs":ms}          the existing key expires `ttlMs` from now (Redis EXPIRE; a
 *                                       heartbeat), its value and revision untouched → {"revision","expiresAtMs"}
 *   {"op":"persist"}                    its TTL ends (Redis PERSIST) → {"revision","expiresAtMs":null}
 *
 * `expire` and `persist` of an absent key: 404 `not_found`, nothing applied. Each is a single-key
 * write like PUT and DELETE: it joins the turn's coalesced entry (key_writes.ts), in its place.
 */
import { QuorumError } from '../errors';
import { type BatchItem, Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { onlyFields, parseObject } from './args';
import { incrStep } from './counters';
import { writeMeta } from './exactly_once';
import type { Target } from './http';
import { KeyWrites } from './key_writes';
import { ttlArg, written } from './kv';
import type { Reply } from './reply';

const FIELDS: Record<string, ReadonlySet<string>> = {
  incr: new Set(['op', 'by', 'ttlMs']),
  expire: new Set(['op', 'ttlMs']),
  persist: new Set(['op']),
};

export async function patch(node: RaftNode, key: string, body: Buffer, target: Target): Promise<Reply> {
  const doc = parseObject(body.toString('utf8'), '{"op": "incr" | "expire" | "persist", ...}');
  const fields = typeof doc.op === 'string' && Object.hasOwn(FIELDS, doc.op) ? FIELDS[doc.op] : undefined;
  if (fields === undefined) throw new QuorumError('invalid_op', '"op" must be "incr", "expire" or "persist"');
  onlyFields(doc, fields, 'the body');
  const { idem, atMs } = writeMeta(target);
  const item = patchItem(key, doc, idem);
  // A TTL counts from the entry's clock: an entry with one carries it.
  return written(key, await KeyWrites.of(node).write(item, item.ttlMs === undefined ? atMs : (atMs ?? Date.now())));
}

function patchItem(key: string, doc: Record<string, unknown>, idem: string | undefined): BatchItem {
  if (doc.op === 'persist') return { op: Op.SetTtl, key, idem };
  if (doc.op === 'expire') {
    if (doc.ttlMs === undefined) throw new QuorumError('invalid_ttl', 'an expire needs "ttlMs" (to end a TTL: {"op":"persist"})');
    return { op: Op.SetTtl, key, idem, ttlMs: ttlArg(doc.ttlMs, 'ttlMs') };
  }
  const item: BatchItem = { op: Op.Incr, key, value: Buffer.from(String(incrStep(doc.by, 'by'))), idem };
  if (doc.ttlMs !== undefined) item.ttlMs = ttlArg(doc.ttlMs, 'ttlMs');
  return item;
}
