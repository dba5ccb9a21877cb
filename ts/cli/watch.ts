/**
 * `quorumkv watch [prefix] [--key K | --start A --end B] [--types put,delete]`: KV changes to
 * the keys under a prefix, one key or a range, as they apply, one JSON line each on
 * stdout (`{"type":"put","key","value","revision"}` or `{"type":"delete","key","revision"}`),
 * until Ctrl-C — etcdctl watch's use (see `follow.ts` for failures, exit status and errors,
 * e.g. 410 `compacted`: the revision asked is no longer retained).
 */
import { follow } from './follow';

import type { WatchEvent } from '../client/streams';

export interface WatchCliOptions {
  endpoint: string[];
  key?: string;
  start?: string;
  end?: string;
  types?: string;
  fromRevision?: number;
}

export function watchCommand(prefix: string | undefined, opts: WatchCliOptions): Promise<number> {
  // (The node refuses a mix of a prefix, a key and a range, and types other than put and delete.)
  const keys = { prefix, key: opts.key, start: opts.start, end: opts.end };
  const types = opts.types?.split(',') as WatchEvent['type'][] | undefined;
  return follow(opts.endpoint, async function* (client, signal) {
    // The node's own lines: values as stored (a parsed event has numbers past 2^53 rounded).
    for await (const [, line] of client.watchLines(keys, { fromRevision: opts.fromRevision, types, signal })) yield line;
  });
}
