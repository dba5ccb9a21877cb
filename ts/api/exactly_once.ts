/**
 * Exactly-once writes over HTTP. A write (PUT/DELETE of a key, a txn, a batch, an item of a
 * batch) may carry an idempotency key — the `Idempotency-Key` request header (the IETF httpapi
 * draft's convention), or `idempotencyKey` on a batch item; a repeat of a key already applied
 * gets the first answer (same status and body, plus `Idempotent-Replayed: true`), never a second
 * application. Keys `s<n>:<seq>` belong to a session opened with `POST /v1/sessions` (what the
 * client library does); their retries stay safe after the key is dropped (refused
 * `idempotency_key_expired`, never re-applied). Kept: 10 minutes, 100,000 keys; sessions expire
 * after 30 idle minutes (ts/node/idempotency.ts).
 */
import { QuorumError } from '../errors';
import type { BatchResult, WriteResult } from '../node/applier';
import { Op } from '../node/commands';
import { IDEMPOTENCY_KEY_BYTES_MAX, KEY_TTL_MS, SESSION_IDLE_MS } from '../node/idempotency';
import type { RaftNode } from '../node/raft_node';
import type { Target } from './http';
import type { Reply } from './reply';

/** Visible ASCII only: a key is compared byte for byte, and shown in messages. */
const KEY_SHAPE = /^[\x21-\x7e]+$/;
const REPLAYED = { 'idempotent-replayed': 'true' };

/** `raw` as an idempotency key, or a 400 naming `where`. */
export function checkIdempotencyKey(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > IDEMPOTENCY_KEY_BYTES_MAX || !KEY_SHAPE.test(raw)) {
    throw new QuorumError('invalid_idempotency_key', `${where} must be 1..${IDEMPOTENCY_KEY_BYTES_MAX} visible ASCII characters`);
  }
  return raw;
}

/** The request's idempotency (header) and the proposer's clock, for the command. */
export function writeMeta(target: Target): { idem?: string; atMs?: number } {
  const header = target.req?.headers['idempotency-key'];
  if (header === undefined) return {};
  return { idem: checkIdempotencyKey(Array.isArray(header) ? header[0] : header, 'the Idempotency-Key header'), atMs: Date.now() };
}

/** Headers telling the client this answer is a replay of the first one. */
export function replayHeaders(result: WriteResult | BatchResult): Record<string, string> | undefined {
  return result.replayed ? REPLAYED : undefined;
}

/** A refused write's error (expired session, dropped key). */
export function refusedError(result: WriteResult & { kind: 'refused' }): QuorumError {
  return new QuorumError(result.code, result.message);
}

/** `POST /v1/sessions` → `{"session", "keyTtlMs", "sessionIdleMs"}`: a new client session, through the log. */
export async function openSession(node: RaftNode): Promise<Reply> {
  const result = await node.propose({ op: Op.Session, key: '', atMs: Date.now() });
  if (result.kind !== 'session') throw new QuorumError('INVARIANT', `a session opened as ${result.kind}`);
  return { body: { session: result.session, keyTtlMs: KEY_TTL_MS, sessionIdleMs: SESSION_IDLE_MS } };
}
