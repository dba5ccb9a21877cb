/**
 * Checks of request fields, each failing with its catalogued code: keys, revisions, member ids,
 * addresses, JSON bodies and values.
 *
 * Limits: keys ≤ `KEY_BYTES_MAX` (4 KiB), values ≤ `VALUE_BYTES_MAX` (1 MiB of JSON text).
 */
import { QuorumError } from '../errors';
import { RESERVED_KEY_PREFIX } from '../node/membership';
import { parsePeerAddress } from '../transport/peer';

export const KEY_BYTES_MAX = 4096;
export const VALUE_BYTES_MAX = 1 << 20;

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new QuorumError('invalid_json', 'the request needs a JSON body');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new QuorumError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** A JSON object body (`what` describes its expected shape in the error). */
export function parseObject(body: Buffer, what: string): Record<string, unknown> {
  const doc = parseJson(body);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new QuorumError('invalid_body', `the body must be an object ${what}`);
  return doc as Record<string, unknown>;
}

/** A key from the path (percent-encoded). */
export function keyFromPath(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new QuorumError('invalid_key', 'the key is not valid percent-encoding');
  }
  return checkKey(key, 'the path');
}

/** A key field: a non-empty string of at most `KEY_BYTES_MAX` bytes, not reserved. */
export function checkKey(key: unknown, where: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new QuorumError('invalid_key', `${where}: the key must be a non-empty string`);
  if (Buffer.byteLength(key) > KEY_BYTES_MAX) throw new QuorumError('key_too_large', `${where}: keys are at most ${KEY_BYTES_MAX} bytes`);
  refuseReserved(key, `${where}: keys`);
  return key;
}

/** Keys starting with NUL hold the store's own state (the membership record). */
export function refuseReserved(key: string, what = 'keys'): void {
  if (key.startsWith(RESERVED_KEY_PREFIX)) throw new QuorumError('invalid_key', `${what} starting with NUL (\\u0000) are reserved`);
}

/** A JSON value as stored: its text, at most `VALUE_BYTES_MAX` bytes. */
export function jsonValue(v: unknown): Buffer {
  const value = Buffer.from(JSON.stringify(v));
  if (value.length > VALUE_BYTES_MAX) throw new QuorumError('value_too_large', `values are at most ${VALUE_BYTES_MAX} bytes of JSON`);
  return value;
}

/** A revision field or query parameter (absent → undefined). */
export function revisionArg(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.length > 0 ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new QuorumError('invalid_revision', `${name} must be a non-negative integer`);
  return n;
}

/** `2`, `"2"` or `"n2"` → 2. */
export function memberId(raw: unknown): number {
  const m = /^n?(\d+)$/.exec(typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '');
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0 || id >= 2 ** 32) throw new QuorumError('invalid_member_id', `member ids look like 2 or "n2", got ${JSON.stringify(raw)}`);
  return id;
}

/** A `host:port` field of a request body (undefined when absent and optional). */
export function addressField(doc: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = doc[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new QuorumError('invalid_body', `"${name}" must be "host:port"`);
  try {
    parsePeerAddress(v);
  } catch (err) {
    throw new QuorumError('invalid_body', `"${name}": ${(err as Error).message}`);
  }
  return v;
}
