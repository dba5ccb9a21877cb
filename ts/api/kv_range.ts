/**
 * `GET /v1/kv`: range reads, as etcd's Range — a page of the keys of a prefix or of
 * `[start, end)`, ascending or (`reverse=true`) descending, with their values or
 * (`keysOnly=true`) only keys and revisions; or (`count=true`) how many keys the range holds.
 * Linearizable (one ReadIndex round per request) unless `?consistency=stale`.
 *
 * Keys compare as their UTF-8 bytes (the engine's order), not as JavaScript strings do. Reserved
 * keys (a NUL first byte) are never part of a range: user ranges start at `USER_KEYS_START`.
 *
 * Limits: pages ≤ `SCAN_LIMIT_MAX` keys; a count ≤ `COUNT_KEYS_MAX` keys per request (then
 * `more` and `next`, where the next count continues).
 */
import { QuorumError } from '../errors';
import { decodeStored, STORED_REVISION_BYTES } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { refuseReserved } from './args';
import { barrier, itemText } from './kv';
import type { Target } from './http';
import type { Reply } from './reply';

export const SCAN_LIMIT_MAX = 1000;
/**
 * Keys one count request counts. The addon counts keys only, off the JS thread, at a few
 * million keys per second: a count answers within seconds, and a larger range is counted in
 * parts (`more`, `next`), as a page is.
 */
export const COUNT_KEYS_MAX = 10_000_000;
/** Engine pages one scan may read when the caller sees only part of the range. */
const SCAN_FILTERED_PAGES_MAX = 8;
/** The first key that is not reserved (reserved keys start with NUL). */
const USER_KEYS_START = '\u0001';

/** A range of user keys, and the longest prefix all its keys share (what permissions are checked on). */
export interface KeyRange {
  bounds: { prefix: string } | { start: string; end?: string };
  common: string;
}

export async function scan(node: RaftNode, target: Target): Promise<Reply> {
  const query = target.query;
  const range = keyRange(query);
  const after = query.get('after') ?? undefined;
  if (flag(query, 'count')) {
    for (const name of ['limit', 'reverse', 'keysOnly']) {
      if (query.has(name)) throw new QuorumError('invalid_query', `count=true counts the whole range in key order: ${name} does not apply`);
    }
    return countRange(node, target, range, after);
  }
  const visible = target.guard.visible('kv', range.common);
  const limitRaw = query.get('limit');
  const limit = limitRaw === null ? 100 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > SCAN_LIMIT_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${SCAN_LIMIT_MAX}`);
  const reverse = flag(query, 'reverse');
  const keysOnly = flag(query, 'keysOnly');
  const render = keysOnly ? keyText : itemText;
  await barrier(node, query, limit);
  const items: string[] = [];
  let more = true;
  let last = after;
  for (let pages = 0; more && items.length < limit && (pages === 0 || visible) && pages < SCAN_FILTERED_PAGES_MAX; pages++) {
    // Keys only: of each value, the engine copies just the stored revision (its first 8 bytes).
    const page = await node.keys.scan({ ...range.bounds, after: last, limit: limit - items.length, reverse, valuePrefixBytes: keysOnly ? STORED_REVISION_BYTES : undefined });
    for (const kv of page.items) {
      const key = kv.key.toString('utf8');
      if (!visible || visible(key)) items.push(render(key, kv.value));
      last = key;
    }
    more = page.more;
  }
  // `next`: where the node stopped (a token that sees part of the range may get short pages).
  const next = more && last !== undefined ? `,"next":${JSON.stringify(last)}` : '';
  return { raw: `{"items":[${items.join(',')}],"more":${more}${next}}` };
}

/** The range's keys counted, at most `COUNT_KEYS_MAX`; a caller must be allowed the whole range. */
async function countRange(node: RaftNode, target: Target, range: KeyRange, after: string | undefined): Promise<Reply> {
  target.guard.check('kv', range.common, 'read');
  await barrier(node, target.query);
  const counted = await node.keys.count({ ...range.bounds, after, limit: COUNT_KEYS_MAX });
  const next = counted.more && counted.last ? `,"next":${JSON.stringify(counted.last.toString('utf8'))}` : '';
  return { raw: `{"count":${counted.count},"more":${counted.more}${next}}` };
}

/** `prefix=P`, or `start=A&end=B` (either may be left out), or neither: every user key. */
export function keyRange(query: URLSearchParams): KeyRange {
  const prefix = query.get('prefix');
  const start = query.get('start');
  const end = query.get('end');
  if (prefix !== null && (start !== null || end !== null)) throw new QuorumError('invalid_query', 'a range is ?prefix= or ?start=&end=, not both');
  if (prefix !== null && prefix !== '') {
    refuseReserved(prefix, 'prefixes');
    return { bounds: { prefix }, common: prefix };
  }
  if (start) refuseReserved(start, 'range starts');
  const from = start || USER_KEYS_START;
  if (end === null) return { bounds: { start: from }, common: '' };
  if (end === '' || Buffer.compare(Buffer.from(end), Buffer.from(from)) <= 0) {
    throw new QuorumError('invalid_query', `the range's end must sort after its start (${JSON.stringify(start ?? '')})`);
  }
  return { bounds: { start: from, end }, common: commonPrefix(from, end) };
}

/** The longest string both start with (every key between them starts with it too). */
function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return a.slice(0, i);
}

/** `true`, `false` or absent (false); anything else is refused. */
function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v !== null && v !== 'true' && v !== 'false') throw new QuorumError('invalid_query', `${name} is "true" or "false"`);
  return v === 'true';
}

/** A keys-only item: the key and its revision. */
function keyText(key: string, stored: Buffer): string {
  return `{"key":${JSON.stringify(key)},"revision":${decodeStored(stored).revision}}`;
}
