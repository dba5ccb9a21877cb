/**
 * `PATCH /v1/kv/{key}` `{"op":"incr","by"?:n,"ttlMs"?:ms}`: adds `by` (default 1, may be negative)
 * to the key's integer value (absent: 0) in the state machine — Redis's INCRBY — and answers
 * `{"value","revision","expiresAtMs"?}`. Concurrent increments never conflict; with an
 * `Idempotency-Key` a retried one counts once. The key keeps its TTL; `ttlMs` sets one only
 * when the increment creates the key (ts/node/counters.ts). 409 `not_a_counter` when the key
 * holds anything but an integer, `counter_overflow` past ±(2^53 − 1).
 *
 * A single-key write like PUT and DELETE: it joins the turn's coalesced entry (key_writes.ts).
 */
import { QuorumError } from '../errors';
import { type BatchItem, Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { onlyFields, parseObject } from './args';
import { writeMeta } from './exactly_once';
import type { Target } from './http';
import { KeyWrites } from './key_writes';
import { ttlArg, written } from './kv';
import type { Reply } from './reply';

const PATCH_FIELDS = new Set(['op', 'by', 'ttlMs']);

export async function patch(node: RaftNode, key: string, body: Buffer, target: Target): Promise<Reply> {
  const doc = parseObject(body.toString('utf8'), '{"op": "incr", "by": 1}');
  onlyFields(doc, PATCH_FIELDS, 'the body');
  if (doc.op !== 'incr') throw new QuorumError('invalid_op', '"op" must be "incr"');
  const { idem, atMs } = writeMeta(target);
  const item: BatchItem = { op: Op.Incr, key, value: Buffer.from(String(incrStep(doc.by, 'by'))), idem };
  if (doc.ttlMs === undefined) return written(key, await KeyWrites.of(node).write(item, atMs));
  item.ttlMs = ttlArg(doc.ttlMs, 'ttlMs');
  // Its expiry, if it creates the key: the entry's clock plus the TTL.
  return written(key, await KeyWrites.of(node).write(item, atMs ?? Date.now()));
}

/** An increment's step: an integer within ±(2^53 − 1); 1 when absent. */
export function incrStep(raw: unknown, where: string): number {
  if (raw === undefined) return 1;
  if (!Number.isSafeInteger(raw)) throw new QuorumError('invalid_body', `${where} must be an integer within ±(2^53 - 1)`);
  return raw as number;
}
