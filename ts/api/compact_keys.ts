/**
 * The keys of a multi-get body `{"keys":[...]}`, read without JSON.parse when the body has the
 * compact shape clients send (JSON.stringify's: no whitespace, no other field, keys without
 * escapes or control characters). JSON.parse internalizes every string of up to 10 characters:
 * a string-table lookup per key, ~12% of a leader serving 1,000 callers' multi-gets (perf).
 * Slices of the body's text are plain strings. Any other shape: undefined, and the caller parses
 * the body as JSON (which then accepts or refuses it with its usual errors).
 */
const OPEN = '{"keys":[';
const CLOSE = ']}';
const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;

export function compactKeys(text: string): string[] | undefined {
  if (!text.startsWith(OPEN) || !text.endsWith(CLOSE)) return undefined;
  const end = text.length - CLOSE.length;
  const keys: string[] = [];
  let at = OPEN.length;
  if (at === end) return keys;
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) return undefined;
    const close = text.indexOf('"', at + 1);
    // (A key's closing quote lies before the body's end; a backslash before it means an escape.)
    if (close < 0 || close >= end || !plain(text, at + 1, close)) return undefined;
    keys.push(text.slice(at + 1, close));
    at = close + 1;
    if (at === end) return keys;
    if (text.charCodeAt(at) !== COMMA) return undefined;
    at++;
  }
}

/** No escape and no control character in `text[from, to)` (JSON allows neither unescaped). */
function plain(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === BACKSLASH) return false;
  }
  return true;
}

/**
 * How many keys a compact body lists, by its quotes alone (no strings made); undefined: not
 * that shape at first sight. Exact for bodies `compactKeys` reads; the addon, which answers
 * those (`Engine.cacheMultiGet`), checks the rest.
 */
export function compactKeyCount(text: string): number | undefined {
  if (!text.startsWith(OPEN) || !text.endsWith(CLOSE)) return undefined;
  const end = text.length - CLOSE.length;
  let count = 0;
  for (let at = OPEN.length; at < end; count++) {
    if (text.charCodeAt(at) !== QUOTE) return undefined;
    const close = text.indexOf('"', at + 1);
    if (close < 0 || close >= end) return undefined;
    at = close + 1;
    if (at < end && text.charCodeAt(at++) !== COMMA) return undefined;
  }
  return count;
}
