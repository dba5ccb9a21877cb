/**
 * `quorumkv watch [prefix]`: KV changes under a prefix as they apply, one JSON line each on
 * stdout (`{"type":"put","key","value","revision"}` or `{"type":"delete","key","revision"}`),
 * until Ctrl-C — etcdctl watch's use (see `follow.ts` for failures, exit status and errors,
 * e.g. 410 `compacted`: the revision asked is no longer retained).
 */
import { follow } from './follow';

export interface WatchCliOptions {
  endpoint: string[];
  fromRevision?: number;
}

export function watchCommand(prefix: string, opts: WatchCliOptions): Promise<number> {
  return follow(opts.endpoint, async function* (client, signal) {
    // The node's own lines: values as stored (a parsed event has numbers past 2^53 rounded).
    for await (const [, line] of client.watchLines(prefix, { fromRevision: opts.fromRevision, signal })) yield line;
  });
}
