/**
 * `quorumkv watch [prefix]`: KV changes under a prefix as they apply, one JSON line each on
 * stdout (`{"type":"put","key","value","revision"}` or `{"type":"delete","key","revision"}`),
 * until Ctrl-C — etcdctl watch's use. It goes through the client library's watch, so it follows
 * the cluster when its node fails: reopened on another member after the last revision printed,
 * nothing lost or repeated. Exit 0 after Ctrl-C; 1 on an error (e.g. 410 `compacted`: the
 * revision asked is no longer retained), printed as the server's error JSON on stderr.
 */
import { QuorumClient } from '../client';
import { QuorumClientError } from '../client/errors';
import { currentConnection } from './http_client';

export interface WatchCliOptions {
  endpoint: string;
  fromRevision?: number;
}

export async function watchCommand(prefix: string, opts: WatchCliOptions): Promise<number> {
  const conn = currentConnection();
  const client = new QuorumClient({ endpoints: [opts.endpoint], token: conn.token, tls: { ca: conn.ca, cert: conn.cert, key: conn.key } });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The node's own lines: values as stored (a parsed event has numbers past 2^53 rounded).
    for await (const [, line] of client.watchLines(prefix, { fromRevision: opts.fromRevision, signal: stop.signal })) {
      // A reader that stops reading (`| head`) holds the watch: wait for stdout to drain.
      if (!process.stdout.write(`${line}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0;
    const e = err instanceof QuorumClientError ? { error: { code: err.code, message: err.message, ...err.details } } : { error: { code: 'internal', message: (err as Error).message } };
    process.stderr.write(`${JSON.stringify(e)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
  }
}
