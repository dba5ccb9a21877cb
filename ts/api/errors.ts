/**
 * Every HTTP error is `{"error":{"code","message", ...details}}`, its status taken from the one
 * catalogue (`../errors.ts`). Storage and internal failures keep their code but never expose
 * their raw message (it may name files on the server).
 */
import { codeOf, lookup, QuorumError } from '../errors';

export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string; [detail: string]: unknown } };
  headers: Record<string, string>;
}

export function errorAnswer(err: unknown): ErrorAnswer {
  const code = codeOf(err);
  const entry = lookup(code);
  if (err instanceof QuorumError && entry.class !== 'storage' && entry.class !== 'internal') {
    return { status: entry.status, body: { error: { code, message: err.message, ...err.details } }, headers: err.headers };
  }
  const message = entry.class === 'storage' ? `this node's storage failed (${code}); retry on another node` : `internal error (${code})`;
  return { status: entry.status, body: { error: { code, message } }, headers: {} };
}
