/**
 * Errors are values with stable codes, and this file is their one catalogue: every code the
 * node, the API or the addon raises is listed once with the HTTP status it answers with and
 * its class (what a client may do about it). The API layer only looks codes up here; nothing
 * else decides a status. (ARCHITECTURE.md, "Errors".)
 *
 * The native addon reports failures as messages prefixed with `[CODE] `; `fromNative` turns
 * those into `NativeError`s that keep the addon's code.
 */

/**
 * What a client can do about an error:
 * - `invalid`: the request is wrong; sending it again changes nothing.
 * - `conflict`, `not_found`: the request does not fit the current state.
 * - `retryable`: known not applied (never proposed, or refused before proposing); retry,
 *   possibly on another node.
 * - `unknown_outcome`: may or may not have been applied; read before retrying a write.
 * - `storage`: this node's storage failed; the node stops (exit 70); retry elsewhere.
 * - `internal`: a bug.
 */
export type ErrorClass = 'invalid' | 'conflict' | 'not_found' | 'retryable' | 'unknown_outcome' | 'storage' | 'internal';

interface CatalogueEntry {
  status: number;
  class: ErrorClass;
}

const invalid = (status = 400): CatalogueEntry => ({ status, class: 'invalid' });
const storage: CatalogueEntry = { status: 500, class: 'storage' };
const internal: CatalogueEntry = { status: 500, class: 'internal' };

export const ERROR_CATALOGUE = {
  // ---- request shape (400, 404, 405, 413, 431) ----
  invalid_json: invalid(),
  invalid_body: invalid(),
  invalid_path: invalid(),
  invalid_request: invalid(),
  headers_too_large: invalid(431),
  missing_value: invalid(),
  missing_prefix: invalid(),
  invalid_ttl: invalid(),
  invalid_key: invalid(),
  key_too_large: invalid(),
  invalid_revision: invalid(),
  invalid_consistency: invalid(),
  invalid_layout: invalid(),
  invalid_query: invalid(),
  invalid_limit: invalid(),
  invalid_member_id: invalid(),
  invalid_op: invalid(),
  duplicate_key: invalid(),
  too_many_keys: invalid(),
  too_many_ops: invalid(),
  invalid_idempotency_key: invalid(),
  idempotency_key_reused: invalid(422),
  too_many_compares: invalid(),
  value_too_large: invalid(413),
  body_too_large: invalid(413),
  invalid_event: invalid(),
  invalid_depth: invalid(),
  invalid_time: invalid(),
  too_many_events: invalid(413),
  unsupported_media_type: invalid(415),
  invalid_role: invalid(),
  invalid_token: invalid(),
  // ---- authentication and authorization (401, 403) ----
  unauthenticated: invalid(401),
  permission_denied: invalid(403),
  route_not_found: { status: 404, class: 'not_found' },
  method_not_allowed: invalid(405),
  // ---- state (404, 409) ----
  not_found: { status: 404, class: 'not_found' },
  unknown_member: { status: 404, class: 'not_found' },
  unknown_instrument: { status: 404, class: 'not_found' },
  replay_not_found: { status: 404, class: 'not_found' },
  role_not_found: { status: 404, class: 'not_found' },
  token_not_found: { status: 404, class: 'not_found' },
  role_builtin: { status: 409, class: 'conflict' },
  role_in_use: { status: 409, class: 'conflict' },
  auth_bootstrapped: { status: 409, class: 'conflict' },
  // ---- backups (ts/backup) ----
  backup_target_invalid: invalid(),
  backup_not_configured: { status: 409, class: 'conflict' },
  backup_in_progress: { status: 409, class: 'conflict' },
  // An operator's defrag of this member is running (node/defrag.ts).
  defrag_in_progress: { status: 409, class: 'conflict' },
  backup_object_missing: { status: 404, class: 'not_found' },
  backup_corrupt: { status: 409, class: 'conflict' },
  // The object store failed (down, refused): nothing was recorded as a backup; retry.
  backup_failed: { status: 503, class: 'retryable' },
  too_many_instruments: { status: 409, class: 'conflict' },
  too_many_ttl_keys: { status: 409, class: 'conflict' },
  // A member's disk is below its reserve (node/space_guard.ts): known not applied, not retried.
  no_space: { status: 507, class: 'conflict' },
  not_a_counter: { status: 409, class: 'conflict' },
  counter_overflow: { status: 409, class: 'conflict' },
  too_many_producers: { status: 409, class: 'conflict' },
  revision_mismatch: { status: 409, class: 'conflict' },
  compacted: { status: 410, class: 'not_found' },
  member_exists: { status: 409, class: 'conflict' },
  not_learner: { status: 409, class: 'conflict' },
  last_voter: { status: 409, class: 'conflict' },
  membership_change_pending: { status: 409, class: 'conflict' },
  // The write's session or key answer is gone: if it was a retry, it may have applied before.
  session_expired: { status: 410, class: 'unknown_outcome' },
  idempotency_key_expired: { status: 410, class: 'unknown_outcome' },
  // ---- availability (503, 504) ----
  unavailable: { status: 503, class: 'retryable' },
  overloaded: { status: 503, class: 'retryable' },
  throttled: { status: 429, class: 'retryable' },
  timeout: { status: 504, class: 'unknown_outcome' },
  /** A write handed to a leader that lost its leadership before committing it (waiters.ts). */
  leader_changed: { status: 504, class: 'unknown_outcome' },
  // ---- the node's own failures (never a request's fault) ----
  COMMAND_INVALID: internal,
  COMMAND_VERSION_UNSUPPORTED: internal,
  DATA_LAYOUT_UNSUPPORTED: internal,
  INVALID_CONFIG: internal,
  RAFT_CONFIG_INVALID: internal,
  INVALID_MESSAGE: internal,
  PROPOSAL_DROPPED: { status: 503, class: 'retryable' },
  INVARIANT: internal,
  PEER_FRAME_INVALID: internal,
  SNAPSHOT_MISMATCH: internal,
  SNAPSHOT_INVALID: internal,
  // ---- the addon (crates/wal, crates/engine) ----
  WAL_CORRUPT: storage,
  WAL_FSYNC_FAILED: storage,
  WAL_FATAL: storage,
  WAL_IO: storage,
  WAL_LIMIT: storage,
  WAL_GAP: storage,
  WAL_INVALID_ARGUMENT: internal,
  WAL_CLOSED: storage,
  ENGINE_IO: storage,
  ENGINE_CORRUPT: storage,
  ENGINE_INVALID_ARGUMENT: internal,
  ENGINE_APPLY_ORDER: internal,
  ENGINE_CLOSED: storage,
  INVALID_ARGUMENT: internal,
  MD_INVALID: internal,
  MD_LIMIT: internal,
  MD_CORRUPT: storage,
  CLUSTER_ID_CORRUPT: storage,
  internal,
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The catalogue entry for `code` (an unknown code is an internal error). */
export function lookup(code: string): CatalogueEntry {
  return (ERROR_CATALOGUE as Record<string, CatalogueEntry>)[code] ?? internal;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code);
}

export interface ErrorExtras {
  cause?: unknown;
  /** Extra fields of the JSON answer (e.g. `revision` of a mismatch). */
  details?: Record<string, unknown>;
  /** Extra response headers (e.g. `retry-after`, `allow`). */
  headers?: Record<string, string>;
}

export class QuorumError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, extras: ErrorExtras = {}) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = extras.details ?? {};
    this.headers = extras.headers ?? {};
  }

  get status(): number {
    return lookup(this.code).status;
  }

  get errorClass(): ErrorClass {
    return lookup(this.code).class;
  }
}

/** The request is malformed (a 4xx of class `invalid`). */
export const invalidRequest = (code: ErrorCode, message: string, extras?: ErrorExtras): QuorumError => new QuorumError(code, message, extras);

/** Known not applied; retry (503 with `Retry-After`). */
export class UnavailableError extends QuorumError {
  constructor(message: string, code: 'unavailable' | 'overloaded' = 'unavailable') {
    super(code, message, { headers: { 'retry-after': '1' } });
  }
}

/** Not answered in time: the outcome is unknown (504). */
export class TimeoutError extends QuorumError {
  constructor(message: string) {
    super('timeout', message);
  }
}

/** An error raised inside the Rust addon (WAL_*, ENGINE_*, INVALID_ARGUMENT). */
export class NativeError extends QuorumError {
  /** The addon's own code, kept even when the catalogue does not list it. */
  readonly nativeCode: string;

  constructor(code: string, message: string, extras?: ErrorExtras) {
    super(isErrorCode(code) ? code : 'internal', message, extras);
    this.nativeCode = code;
  }
}

const CODE_PREFIX = /^\[([A-Z][A-Z0-9_]*)\] /;

export function fromNative(err: unknown): Error {
  if (err instanceof QuorumError) return err;
  if (err instanceof Error) {
    const match = CODE_PREFIX.exec(err.message);
    if (match) return new NativeError(match[1], err.message.slice(match[0].length), { cause: err });
    // napi-rs argument conversion failures (wrong JS type) carry no code of ours.
    if ((err as { code?: unknown }).code === 'InvalidArg' || err instanceof TypeError) {
      return new NativeError('INVALID_ARGUMENT', err.message, { cause: err });
    }
    return err;
  }
  return new Error(String(err));
}

/** The code of any error: ours, the addon's, or `internal`. */
export function codeOf(err: unknown): string {
  if (err instanceof NativeError) return err.nativeCode;
  if (err instanceof QuorumError) return err.code;
  return 'internal';
}
