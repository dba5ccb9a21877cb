/**
 * `quorumkv scan --all`: every key of the prefix (from `--after`), page after page, one JSON
 * line per key as the node wrote it (a value's numbers exact), as etcdctl's `get --prefix`
 * prints them all. Each page is a read of its own (linearizable unless `--stale`), not one
 * snapshot of the whole range: keys written meanwhile behind the pages' progress are not seen.
 */
import { arrayElements, skipJsonSpace } from '../json_text';
import { callAny } from './http_client';
import { prettyJson } from './pretty_json';

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
    const res = await callAny(endpoints, `/v1/kv?${q}`);
    const text = await res.text();
    if (!res.ok) {
      console.log(prettyJson(text) ?? text);
      return 1;
    }
    const page = JSON.parse(text) as { items: { key: string }[]; more: boolean; next?: string };
    const items = arrayElements(text, skipJsonSpace(text, text.indexOf('"items":') + 8));
    if (items.length > 0) process.stdout.write(`${items.join('\n')}\n`);
    // `next`: where the node stopped (a token that sees part of the prefix may get short pages).
    after = page.next ?? page.items[page.items.length - 1]?.key;
    if (!page.more || after === undefined) return 0;
  }
}
