/**
 * The exact text of the `"value"` members of a write's JSON body, so a value is stored as the
 * client wrote it (whitespace outside strings removed), as etcd and Redis store bytes. Parsing it
 * and writing it back (JSON.parse, then JSON.stringify) rounded every number past a double: a
 * nanosecond timestamp `1700000000000000001` came back as `1700000000000000000`, and `1e400` as
 * `null`.
 *
 * `rawValues(text)` maps each `"value"` member's path — `value`, `ops.3.value`,
 * `success.0.value` — to its text, for the write bodies' shapes only: a top-level `"value"`, or
 * one in an object of a top-level `ARRAY_MEMBERS` array. (Looking nowhere else, a path can only
 * name the member JSON.parse put there: no member named `"ops.0"` can pose as `ops[0]`.) The
 * text must already have passed JSON.parse (the scanner assumes valid JSON); like JSON.parse,
 * the last of two members of one name wins.
 */
import { isJsonSpace, skipJsonSpace as skipSpace, stringEnd } from '../json_text';

/** The top-level arrays whose objects' `"value"` members are kept: batch ops, txn compares and branches. */
const ARRAY_MEMBERS = new Set(['ops', 'compare', 'success', 'failure']);

const QUOTE = 0x22;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

const JSON_SPACE = /[ \t\n\r]/;

/** The index after the value that starts at `i` (any JSON value). */
function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isJsonSpace(c)) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && --depth === 0) return i + 1;
    i++;
  }
}

/** `text` without the whitespace outside its strings (a value then fits on one NDJSON line). */
export function minifyJson(text: string): string {
  if (!JSON_SPACE.test(text)) return text;
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (isJsonSpace(c)) {
      out += text.slice(from, i);
      i = skipSpace(text, i);
      from = i;
    } else i++;
  }
  return out + text.slice(from);
}

const SOLE_VALUE_PREFIX = '{"value":';

/**
 * A PUT body's value text. The body JSON.stringify writes, `{"value":V}` with no other member,
 * is sliced without a scan (the common case: every client library writes it so).
 */
export function putValueText(text: string, memberCount: number): string | undefined {
  if (memberCount === 1 && text.startsWith(SOLE_VALUE_PREFIX) && text.endsWith('}')) return minifyJson(text.slice(SOLE_VALUE_PREFIX.length, -1));
  return rawValues(text).get('value');
}

export function rawValues(text: string): Map<string, string> {
  const found = new Map<string, string>();
  const i = skipSpace(text, 0);
  if (text.charCodeAt(i) === OPEN_OBJECT) members(text, i, '', 0, found);
  return found;
}

/**
 * Walks the object at `i` (under `path`; `depth` 0 the body, 1 an item of a top-level array),
 * recording its `"value"` member; the index after it.
 */
function members(text: string, i: number, path: string, depth: number, found: Map<string, string>): number {
  for (i = skipSpace(text, i + 1); text.charCodeAt(i) !== CLOSE_OBJECT; ) {
    const end = stringEnd(text, i);
    const quoted = text.slice(i, end);
    const name = quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
    i = skipSpace(text, skipSpace(text, end) + 1);
    const first = text.charCodeAt(i);
    if (name === 'value') {
      const after = skipValue(text, i);
      found.set(`${path}value`, minifyJson(text.slice(i, after)));
      i = after;
    } else if (depth === 0 && first === OPEN_ARRAY && ARRAY_MEMBERS.has(name)) i = items(text, i, `${name}.`, found);
    else i = skipValue(text, i);
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1);
  }
  return i + 1;
}

/** Walks the array at `i`, each object in it at depth 1; the index after it. */
function items(text: string, i: number, path: string, found: Map<string, string>): number {
  for (let index = 0, at = skipSpace(text, i + 1); ; index++) {
    if (text.charCodeAt(at) === CLOSE_ARRAY) return at + 1;
    at = text.charCodeAt(at) === OPEN_OBJECT ? members(text, at, `${path}${index}.`, 1, found) : skipValue(text, at);
    at = skipSpace(text, at);
    if (text.charCodeAt(at) === COMMA) at = skipSpace(text, at + 1);
  }
}
