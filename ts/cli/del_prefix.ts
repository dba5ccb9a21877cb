/**
 * `quorumkv del <prefix> --prefix`: every key starting with the prefix, as etcdctl's
 * `del --prefix`. The server deletes a bounded part per request (`DELETE /v1/kv?prefix=`,
 * `more` while keys may be left), so this asks again until none is left, each request with its
 * own Idempotency-Key (a request whose answer was lost is repeated on the next member, applied
 * once). Prints the total; an error answer is printed as it came, after what was deleted before it.
 */
import { randomUUID } from 'node:crypto';
import { callAny } from './http_client';
import { prettyJson } from './pretty_json';

/** Requests one command sends at most (each deletes up to the server's default part, 1,000 keys). */
const REQUESTS_MAX = 1_000_000;

export async function deletePrefix(endpoints: readonly string[], prefix: string): Promise<number> {
  let deleted = 0;
  let revision: number | undefined;
  for (let i = 0; i < REQUESTS_MAX; i++) {
    const headers = { 'idempotency-key': `cli-${randomUUID()}` };
    const res = await callAny(endpoints, `/v1/kv?${new URLSearchParams({ prefix })}`, { method: 'DELETE', headers }, true);
    const text = await res.text();
    if (!res.ok) {
      if (deleted > 0) console.error(`deleted ${deleted} keys (through revision ${revision}) before this error`);
      console.log(prettyJson(text) ?? text);
      return 1;
    }
    const part = JSON.parse(text) as { deleted: number; more: boolean; revision: number };
    deleted += part.deleted;
    revision = part.revision;
    if (!part.more) break;
  }
  console.log(prettyJson(JSON.stringify({ deleted, revision })));
  return 0;
}
