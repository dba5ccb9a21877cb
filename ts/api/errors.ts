/**
 * Every HTTP error is `{"error":{"code","message", ...details}}` with a stable code and status.
 */
import { ConflictError, NotFoundError, QuorumError } from '../errors';

export class HttpError extends QuorumError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

/** Maps node errors (unavailable, timeout, native failures) onto HTTP errors. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof QuorumError) {
    if (err.code === 'unavailable') return new HttpError(503, 'unavailable', err.message, {}, { 'retry-after': '1' });
    if (err.code === 'timeout') return new HttpError(504, 'timeout', err.message);
    if (err instanceof ConflictError) return new HttpError(409, err.code, err.message);
    if (err instanceof NotFoundError) return new HttpError(404, err.code, err.message);
    if (err.code === 'invalid_body') return new HttpError(400, err.code, err.message);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError(500, 'internal', message);
}
