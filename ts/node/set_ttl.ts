/**
 * TTL changes of existing keys (`Op.SetTtl`: Redis EXPIRE / PERSIST, a session's heartbeat):
 * the key's value, revision and watchers are untouched; only its expiry is set or ended.
 */
import { invariant } from '../raft/assert';
import type { Batch, WriteResult } from './applier';
import type { Command } from './commands';
import { TTL_LIMIT_REFUSAL } from './key_ttl';
import type { Current } from './overlay';

export function applySetTtl(command: Pick<Command, 'key' | 'ttlMs'>, index: number, current: Current, batch: Batch, atMs: number | undefined): WriteResult {
  if (current === null) return { kind: 'refused', code: 'not_found', message: `${command.key} does not exist` };
  if (command.ttlMs === undefined) {
    batch.ttl.clear(command.key, batch.ops);
    return { kind: 'ttl', revision: current.revision, expiresAtMs: null };
  }
  if (batch.ttl.full(command.key)) return { ...TTL_LIMIT_REFUSAL };
  invariant(atMs !== undefined, () => `entry ${index}: a TTL change without its time`);
  const expiresAtMs = atMs + command.ttlMs;
  batch.ttl.set(command.key, expiresAtMs, batch.ops);
  return { kind: 'ttl', revision: current.revision, expiresAtMs };
}
