/**
 * A following command (`watch`, `md stream`): JSON lines on stdout from a client-library stream
 * until Ctrl-C. The stream follows the cluster when its node fails (the client reopens it on
 * another member after the last position printed). Exit 0 after Ctrl-C or SIGTERM; 1 on an
 * error, printed as the server's error JSON on stderr.
 */
import { QuorumClient } from '../client';
import { QuorumClientError } from '../client/errors';
import { currentConnection } from './http_client';

/** A client-library client for `endpoints`, with this process's token and TLS settings. */
export function cliClient(endpoints: readonly string[]): QuorumClient {
  const conn = currentConnection();
  return new QuorumClient({ endpoints: [...endpoints], token: conn.token, tls: { ca: conn.ca, cert: conn.cert, key: conn.key } });
}

export async function follow(endpoints: readonly string[], lines: (client: QuorumClient, signal: AbortSignal) => AsyncIterable<string>): Promise<number> {
  const client = cliClient(endpoints);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for await (const line of lines(client, stop.signal)) {
      // A reader that stops reading (`| head`) holds the stream: wait for stdout to drain.
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
