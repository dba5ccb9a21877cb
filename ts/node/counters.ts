/**
 * Counters (`Op.Incr`, Redis's INCRBY): a key whose value is a JSON integer, added to in the
 * state machine, so concurrent increments never conflict and a retried one (an idempotency
 * key) is counted once. Values stay within ±(2^53 − 1): every JSON reader, JavaScript's
 * included, reads them exactly. Unlike other writes, an increment keeps the key's TTL (as
 * INCR keeps a Redis key's): `ttlMs` applies only when the increment creates the key — a
 * fixed-window rate counter in one call.
 */
import { invariant } from '../raft/assert';
import type { Batch, WriteResult } from './applier';
import type { Command } from './commands';
import { TTL_LIMIT_REFUSAL } from './key_ttl';
import type { Current } from './overlay';

/** A stored value a counter adds to: a JSON integer as JSON.stringify writes it. */
const INTEGER_TEXT = /^-?(0|[1-9]\d{0,15})$/;

/** Parses an increment's step or a stored value: an integer within ±(2^53 − 1), or undefined. */
export function counterValue(text: string): number | undefined {
  if (!INTEGER_TEXT.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && !Object.is(n, -0) ? n : undefined;
}

/** The counter at `key` after adding `by`, or why it cannot be added to (nothing is written). */
export function increment(key: string, by: number, current: Current): { next: number } | { kind: 'refused'; code: 'not_a_counter' | 'counter_overflow'; message: string } {
  const base = current === null ? 0 : counterValue(current.value.toString('utf8'));
  if (base === undefined) return { kind: 'refused', code: 'not_a_counter', message: `${key} holds ${abridged(current!.value)}, not an integer` };
  const next = base + by;
  if (!Number.isSafeInteger(next)) return { kind: 'refused', code: 'counter_overflow', message: `${key} would pass ±(2^53 - 1): ${base} + ${by}` };
  return { next };
}

/** Writes a counter's new value in the batch, as applier.ts's putKey does, but the key's TTL stays. */
export function writeCounter(batch: Batch, key: string, next: number, index: number): void {
  const value = Buffer.from(String(next));
  batch.overlay.put(key, index, value);
  batch.ops.push({ op: 'put', key, value, revision: index });
  batch.changes.push({ revision: index, type: 'put', key, value });
}

export function applyIncr(command: Pick<Command, 'key' | 'value' | 'ttlMs'>, index: number, current: Current, batch: Batch, atMs: number | undefined): WriteResult {
  const by = counterValue(command.value?.toString('utf8') ?? '');
  invariant(by !== undefined, () => `entry ${index}: an increment of ${command.key} without an integer step`);
  const added = increment(command.key, by, current);
  if (!('next' in added)) return added;
  const creates = current === null && command.ttlMs !== undefined;
  if (creates && batch.ttl.full(command.key)) return { ...TTL_LIMIT_REFUSAL };
  writeCounter(batch, command.key, added.next, index);
  if (!creates) {
    const expiresAtMs = batch.ttl.expiryOf(command.key);
    return expiresAtMs === undefined ? { kind: 'incr', value: added.next, revision: index } : { kind: 'incr', value: added.next, revision: index, expiresAtMs };
  }
  invariant(atMs !== undefined, () => `entry ${index}: an increment's TTL without its time`);
  const expiresAtMs = atMs + command.ttlMs!;
  batch.ttl.set(command.key, expiresAtMs, batch.ops);
  return { kind: 'incr', value: added.next, revision: index, expiresAtMs };
}

function abridged(value: Buffer): string {
  return value.length <= 40 ? value.toString('utf8') : `${value.subarray(0, 40).toString('utf8')}…`;
}
