/**
 * Increments' steps as requests give them (`PATCH /v1/kv/{key}`, batch items, txn ops): see
 * ts/node/counters.ts for what an increment does.
 */
import { QuorumError } from '../errors';

/** An increment's step: an integer within ±(2^53 − 1); 1 when absent. */
export function incrStep(raw: unknown, where: string): number {
  if (raw === undefined) return 1;
  if (!Number.isSafeInteger(raw)) throw new QuorumError('invalid_body', `${where} must be an integer within ±(2^53 - 1)`);
  return raw as number;
}
