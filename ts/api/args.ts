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
/** How deep a JSON body may nest (arrays and objects). */
export const JSON_DEPTH_MAX = 64;

/** A JSON body: its bytes, or its text when the caller decoded it already (to read it again). */
export function parseJson(body: Buffer | string): unknown {
  if (body.length === 0) throw new QuorumError('invalid_json', 'the request needs a JSON body');
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new QuorumError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  // JSON.parse nests without limit, but re-serializing or comparing a value recurses: a body
  // nested deeper than this would overflow the stack there (found by the HTTP fuzz test).
  if (nestingDepth(doc, JSON_DEPTH_MAX) > JSON_DEPTH_MAX) throw new QuorumError('invalid_json', `the body nests deeper than ${JSON_DEPTH_MAX} levels`);
  return doc;
}

/**
 * How deep arrays and objects nest in a parsed document (stops once past `limit`). Walked
 * without recursion over the containers only: scanning the text instead cost as much as
 * JSON.parse itself (~0.5 ms for a 160 KB batch of 1,000 writes; this walk ~0.05–0.1 ms).
 */
function nestingDepth(doc: unknown, limit: number): number {
  if (doc === null || typeof doc !== 'object') return 0;
  const stack: object[] = [doc];
  const depths: number[] = [1];
  let deepest = 0;
  while (stack.length > 0) {
    const v = stack.pop()!;
    const d = depths.pop()!;
    if (d > deepest && (deepest = d) > limit) return d;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (const x of children) {
      if (x === null || typeof x !== 'object') continue;
      stack.push(x);
      depths.push(d + 1);
    }
  }
  return deepest;
}

/** Refuses a member of `o` not in `known` (a misspelt `ifRevision` must not drop a condition). */
export function onlyFields(o: object, known: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(o)) {
    if (!known.has(name)) throw new QuorumError('invalid_body', `${where} has an unknown field ${JSON.stringify(name)} (known: ${[...known].join(', ')})`);
  }
}

/** Refuses a query parameter not in `known` (a misspelt `?ifRevision=` must not drop a condition). */
export function onlyParams(query: URLSearchParams, known: ReadonlySet<string>): void {
  for (const name of query.keys()) {
    if (!known.has(name)) throw new QuorumError('invalid_query', `unknown query parameter ${JSON.stringify(name)} (known: ${[...known].join(', ') || 'none'})`);
  }
}

/** A JSON object body (`what` describes its expected shape in the error). */
export function parseObject(body: Buffer | string, what: string): Record<string, unknown> {
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
  // (A UTF-16 unit is at most 3 UTF-8 bytes: short keys need no count.)
  if (key.length * 3 > KEY_BYTES_MAX && Buffer.byteLength(key) > KEY_BYTES_MAX) throw new QuorumError('key_too_large', `${where}: keys are at most ${KEY_BYTES_MAX} bytes`);
  refuseReserved(key, `${where}: keys`);
  return key;
}

/** Keys starting with NUL hold the store's own state (the membership record). */
export function refuseReserved(key: string, what = 'keys'): void {
  if (key.startsWith(RESERVED_KEY_PREFIX)) throw new QuorumError('invalid_key', `${what} starting with NUL (\\u0000) are reserved`);
}

/** A JSON value as stored: its text, at most `VALUE_BYTES_MAX` bytes. */
/**
 * A value to store: its text as the body gave it (`raw`, from `rawValues`: numbers past a double
 * kept exact), else the parsed value written back.
 */
export function jsonValue(v: unknown, raw?: string): Buffer {
  const value = Buffer.from(raw ?? JSON.stringify(v));
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
