/**
 * Errors are values with stable codes: the HTTP API and the CLI return `code` unchanged.
 * The native addon reports failures as messages prefixed with `[CODE] `; `fromNative`
 * turns those into `NativeError`s.
 */
export class QuorumError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request conflicts with the current state (HTTP 409). */
export class ConflictError extends QuorumError {}

/** The request names something that does not exist (HTTP 404). */
export class NotFoundError extends QuorumError {}

/** An error raised inside the Rust addon (WAL_*, ENGINE_*, INVALID_ARGUMENT). */
export class NativeError extends QuorumError {}

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
