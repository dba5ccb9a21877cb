/**
 * The client's errors: every failure the server answered carries its stable `code` (the
 * server's catalogue, ts/errors.ts), status and details; failures before an answer are
 * `connection_lost` (the request may or may not have arrived), `timeout` (the call's deadline
 * passed) or `aborted` (its AbortSignal fired).
 */
import { type ErrorClass, lookup } from '../errors';

export type ClientErrorCode = string;

/** Failures without an answer: a write may or may not have applied. */
const NO_ANSWER = new Set(['connection_lost', 'timeout', 'aborted']);

export class QuorumClientError extends Error {
  readonly code: ClientErrorCode;
  /** The HTTP status (0: no answer arrived). */
  readonly status: number;
  readonly details: Record<string, unknown>;
  /** What may be done about it (the server catalogue's class; `unknown_outcome` without an answer). */
  readonly errorClass: ErrorClass;
  /** The server's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /** Requests the call had sent when it failed (1: only the first; a refusal of it is not a retry's). */
  sends = 0;

  constructor(code: ClientErrorCode, message: string, status = 0, details: Record<string, unknown> = {}, retryAfterMs?: number) {
    super(message);
    this.name = 'QuorumClientError';
    this.code = code;
    this.status = status;
    this.details = details;
    this.errorClass = NO_ANSWER.has(code) ? 'unknown_outcome' : lookup(code).class;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The error a server's JSON error answer describes. */
export function answerError(status: number, body: Buffer, retryAfter: string | undefined): QuorumClientError {
  let code = `http_${status}`;
  let message = `the server answered ${status}`;
  let details: Record<string, unknown> = {};
  try {
    const doc = JSON.parse(body.toString('utf8')) as { error?: { code?: string; message?: string } & Record<string, unknown> };
    if (doc.error?.code) {
      const { code: c, message: m, ...rest } = doc.error;
      code = c;
      message = m ?? message;
      details = rest;
    }
  } catch {
    // Not our JSON (a proxy's page, say): keep the status.
  }
  const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
  return new QuorumClientError(code, message, status, details, Number.isFinite(seconds) ? seconds * 1000 : undefined);
}

/** A failure before any answer: the request may or may not have reached the server. */
export function connectionLost(cause: unknown): QuorumClientError {
  const err = new QuorumClientError('connection_lost', `no answer: ${(cause as Error)?.message ?? String(cause)}`);
  (err as { cause?: unknown }).cause = cause;
  return err;
}
