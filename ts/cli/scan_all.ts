/**
 * `quorumkv scan --all`: every key of the prefix (from `--after`), page after page, one JSON
 * line per key as the node wrote it (a value's numbers exact), as etcdctl's `get --prefix`
 * prints them all. Each page is a read of its own (linearizable unless `--stale`), not one
 * snapshot of the whole range: keys written meanwhile behind the pages' progress are not seen.
 */
import { arrayElements, skipJsonSpace } from '../json_text';
import { pageText } from './http_client';

export interface ScanAllOptions {
  prefix?: string;
  after?: string;
  limit: number;
  stale?: boolean;
}

export async function scanAll(endpoints: readonly string[], o: ScanAllOptions): Promise<number> {
  let after = o.after;
  for (;;) {
    const q = new URLSearchParams({ prefix: o.prefix ?? '', limit: String(o.limit) });
    if (after !== undefined) q.set('after', after);
    if (o.stale) q.set('consistency', 'stale');
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
