/**
 * Which changes a watch follows (etcd's watch key, range and filters): one key, the keys under
 * a prefix, or the keys in `[start, end)` — compared as their UTF-8 bytes, the engine's order, as
 * a range read compares them — and of those, puts, deletes or both.
 */
import type { KvChange } from './change_feed';

export type KeySelector = { key: string } | { prefix: string } | { start: string; end?: string };
export type ChangeType = KvChange['type'];

/**
 * Order of `a` and `b` as their UTF-8 bytes (negative, 0, positive), without encoding them.
 * UTF-16 code units order as code points except that surrogates (U+D800–DFFF, the halves of
 * code points past U+FFFF) sort below U+E000–FFFF; shifting both blocks at the first difference
 * gives code point order, which is UTF-8 byte order.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** Whether a change is one `selector` and `types` (default: both) follow. */
export function changeMatcher(selector: KeySelector, types?: ReadonlySet<ChangeType>): (c: KvChange) => boolean {
  const key = keyMatcher(selector);
  if (types === undefined || types.size === 2) return (c) => key(c.key);
  return (c) => types.has(c.type) && key(c.key);
}

function keyMatcher(selector: KeySelector): (key: string) => boolean {
  if ('key' in selector) {
    const only = selector.key;
    return (k) => k === only;
  }
  if ('prefix' in selector) {
    const prefix = selector.prefix;
    return prefix === '' ? () => true : (k) => k.startsWith(prefix);
  }
  const { start, end } = selector;
  if (end === undefined) return (k) => compareUtf8(k, start) >= 0;
  return (k) => compareUtf8(k, start) >= 0 && compareUtf8(k, end) < 0;
}
