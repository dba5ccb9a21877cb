/**
 * `quorumkv scan --all`: every key of the range (a prefix or `[--start, --end)`, from `--after`,
 * either way), page after page, one JSON line per key as the node wrote it (a value's numbers
 * exact), as etcdctl's `get --prefix` prints them all. Each page is a read of its own
 * (linearizable unless `--stale`), not one snapshot of the whole range: keys written meanwhile
 * behind the pages' progress are not seen. `quorumkv scan --count` adds up a range's counts
 * the same way.
 */
import { arrayElements, skipJsonSpace } from '../json_text';
import { pageText } from './http_client';

export interface ScanAllOptions {
  prefix?: string;
  start?: string;
  end?: string;
  after?: string;
  limit: number;
  reverse?: boolean;
  keysOnly?: boolean;
  stale?: boolean;
}

/** The query parameters naming the range and how to read it (all but `after` and `limit`). */
export function rangeQuery(o: ScanAllOptions): Record<string, string | undefined> {
  const on = (b: boolean | undefined): string | undefined => (b ? 'true' : undefined);
  return { prefix: o.prefix, start: o.start, end: o.end, reverse: on(o.reverse), keysOnly: on(o.keysOnly), consistency: o.stale ? 'stale' : undefined };
}

/** `?count=true` over the range, part after part: prints `{"count"}` (the sum). */
export async function countKeys(endpoints: readonly string[], o: ScanAllOptions): Promise<number> {
  const { reverse: _r, keysOnly: _k, ...range } = rangeQuery(o);
  let after = o.after;
  let count = 0;
  for (;;) {
    const q = definedParams({ ...range, after, count: 'true' });
    const text = await pageText(endpoints, `/v1/kv?${q}`);
    if (text === undefined) return 1;
    const part = JSON.parse(text) as { count: number; more: boolean; next?: string };
    count += part.count;
    if (!part.more || part.next === undefined) break;
    after = part.next;
  }
  process.stdout.write(`${JSON.stringify({ count })}\n`);
  return 0;
}

const definedParams = (o: Record<string, string | undefined>): URLSearchParams =>
  new URLSearchParams(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));

export async function scanAll(endpoints: readonly string[], o: ScanAllOptions): Promise<number> {
  let after = o.after;
  for (;;) {
    const q = definedParams({ ...rangeQuery(o), after, limit: String(o.limit) });
    const text = await pageText(endpoints, `/v1/kv?${q}`);
    if (text === undefined) return 1;
    const page = JSON.parse(text) as { items: { key: string }[]; more: boolean; next?: string };
    const items = arrayElements(text, skipJsonSpace(text, text.indexOf('"items":') + 8));
    if (items.length > 0) process.stdout.write(`${items.join('\n')}\n`);
    // `next`: where the node stopped (a token that sees part of the prefix may get short pages).
    after = page.next ?? page.items[page.items.length - 1]?.key;
    if (!page.more || after === undefined) return 0;
  }
}
