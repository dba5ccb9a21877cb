/**
 * A broken invariant is a bug: crash loudly with the broken rule rather than continue with
 * state that can violate safety. (Operating errors are handled by the driver, never here.)
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
