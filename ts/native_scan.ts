/**
 * The engine's range reads across the addon boundary: the options and answers of scans and
 * counts (crates/engine/src/scan.rs), and their conversion to and from the addon's forms.
 */
export interface ScanOptions {
  prefix?: string | Buffer;
  start?: string | Buffer;
  end?: string | Buffer;
  after?: string | Buffer;
  limit: number;
  /** At most this many bytes of values in the page (it holds at least one item, however large). */
  bytesMax?: number;
  /** Keys only: every item's value is empty. */
  keysOnly?: boolean;
  /** Descending key order: the page starts at the range's last key (or just below `after`). */
  reverse?: boolean;
  /** Each value cut to at most this many bytes (what the caller reads of it, not a copy of it all). */
  valuePrefixBytes?: number;
}

/** How many keys a range holds, counted up to a limit. */
export interface RangeCount {
  count: number;
  /** The limit was reached: more keys lie after `last`. */
  more: boolean;
  /** The last key counted (absent: none). */
  last?: Buffer;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
}

export function nativeScan(options: ScanOptions): import('../native/index').ScanOptions {
  const opt = (k: string | Buffer | undefined) => (k === undefined ? undefined : keyBuffer(k));
  const bytesMax = options.bytesMax === undefined ? undefined : Math.min(options.bytesMax, 0xffffffff);
  return { prefix: opt(options.prefix), start: opt(options.start), end: opt(options.end), after: opt(options.after), limit: options.limit, bytesMax, keysOnly: options.keysOnly, reverse: options.reverse, valuePrefixBytes: options.valuePrefixBytes };
}

/** A scan page's items from the addon's packing: `[keyLen u32][key][valueLen u32][value]`... */
export function unpackScan(result: { items: Buffer; count: number; more: boolean }): { items: KeyValue[]; more: boolean } {
  const items: KeyValue[] = [];
  const buf = result.items;
  let at = 0;
  for (let i = 0; i < result.count; i++) {
    const klen = buf.readUInt32LE(at);
    const key = buf.subarray(at + 4, at + 4 + klen);
    at += 4 + klen;
    const vlen = buf.readUInt32LE(at);
    const value = buf.subarray(at + 4, at + 4 + vlen);
    at += 4 + vlen;
    items.push({ key, value });
  }
  return { items, more: result.more };
}

/** A key as the addon takes it: its UTF-8 bytes. */
export function keyBuffer(key: string | Buffer): Buffer {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
}
