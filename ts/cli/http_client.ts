/**
 * The CLI's one way to call a node: `fetch`'s shape (a web `Response`), over node:http/https so
 * that a private CA and a client certificate can be given (the global fetch takes neither), with
 * the bearer token on every request. Set once per process from the global flags
 * (`--token`/`QUORUMKV_TOKEN`, `--token-file`, `--cacert`, `--client-cert`, `--client-key`).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { prettyJson } from './pretty_json';

export interface Connection {
  token?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** How long a member has to start answering (its status line) before the call fails with ETIMEDOUT. */
  answerTimeoutMs?: number;
}

let connection: Connection = {};

export interface ConnectionFlags {
  token?: string;
  tokenFile?: string;
  cacert?: string;
  clientCert?: string;
  clientKey?: string;
  timeoutMs?: number;
}

/** Reads the files the flags name (errors name the flag). */
export function connectionFrom(f: ConnectionFlags): Connection {
  const read = (path: string | undefined, flag: string) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${flag}: ${(err as Error).message}`);
    }
  };
  if ((f.clientCert === undefined) !== (f.clientKey === undefined)) throw new Error('--client-cert and --client-key go together');
  const token = f.token ?? read(f.tokenFile, '--token-file')?.toString('utf8').trim();
  return { token: token || undefined, ca: read(f.cacert, '--cacert'), cert: read(f.clientCert, '--client-cert'), key: read(f.clientKey, '--client-key'), answerTimeoutMs: f.timeoutMs };
}

export function useConnection(c: Connection): void {
  connection = c;
}

/** The token and TLS settings the global flags gave (for the client library's calls). */
export function currentConnection(): Connection {
  return connection;
}

export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** The answer timeout for this call: null for none (a request answered only once its work is done); else the connection's. */
  timeoutMs?: number | null;
}

/** `fetch(url, init)` with this process's token and TLS settings. */
export function call(url: string, init: CallInit = {}, conn: Connection = connection): Promise<Response> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...init.headers };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
  const secure = target.protocol === 'https:';
  const options = { method: init.method ?? 'GET', headers, signal: init.signal, ...(secure ? { ca: conn.ca, cert: conn.cert, key: conn.key } : {}) };
  return new Promise<Response>((resolve, reject) => {
    // A member that takes the connection but never answers (hung, or cut off behind a
    // firewall) must not hold the command forever: past the timeout it counts as unreachable.
    const limitMs = init.timeoutMs === null ? undefined : (init.timeoutMs ?? conn.answerTimeoutMs);
    const timer = limitMs === undefined ? undefined : setTimeout(() => req.destroy(Object.assign(new Error(`${target.origin} did not answer within ${limitMs} ms`), { code: 'ETIMEDOUT' })), limitMs);
    const req = (secure ? httpsRequest : httpRequest)(target, options, (res) => {
      clearTimeout(timer);
      const answer = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) answer.set(k, Array.isArray(v) ? v.join(', ') : v);
      const status = res.statusCode ?? 0;
      // A web Response carries no body for these statuses.
      const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, statusText: res.statusMessage, headers: answer }));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(init.body);
  });
}

/** Connection errors after which the request surely never left: any request may go elsewhere. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** The endpoint that answered last: tried first next time (a dead first endpoint is not retried on every call). */
let lastAnswered: string | undefined;

/**
 * `call(endpoint + path)` on each endpoint in turn until one answers (etcdctl's `--endpoints`).
 * A request that surely never left (connection refused) goes on to the next endpoint; one that
 * may have arrived (a reset, a timeout) goes on only when repeating it is safe (`repeatSafe`: a
 * read, or a write carrying an Idempotency-Key), and so does one answered 503 (a member cut off
 * from the leader, or overloaded: another may serve it). With one endpoint, its own error is
 * thrown; when every endpoint answered 503, the last answer is returned.
 */
export async function callAny(endpoints: readonly string[], path: string, init: CallInit = {}, repeatSafe = (init.method ?? 'GET') === 'GET'): Promise<Response> {
  const order = lastAnswered !== undefined && endpoints.includes(lastAnswered) ? [lastAnswered, ...endpoints.filter((e) => e !== lastAnswered)] : endpoints;
  const failures: string[] = [];
  for (const [i, endpoint] of order.entries()) {
    try {
      const res = await call(`${endpoint}${path}`, init);
      if (res.status === 503 && repeatSafe && i < order.length - 1) {
        await res.arrayBuffer(); // read to its end: the connection is free again
        continue;
      }
      lastAnswered = endpoint;
      return res;
    } catch (err) {
      const moveOn = NOT_SENT.has((err as { code?: string }).code ?? '') || (repeatSafe && unreachable(err));
      if (!moveOn || order.length === 1) throw err;
      failures.push(`${endpoint}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no endpoint answered (${failures.join('; ')})`);
}

/** Errors worth retrying: the endpoint is not up (yet), or did not answer in time. A TLS or auth failure is not. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);
export function unreachable(err: unknown): boolean {
  const e = err as Error & { code?: string };
  return e.name === 'TimeoutError' || e.name === 'AbortError' || UNREACHABLE.has(e.code ?? '');
}

/**
 * One page of a command that reads every page (`scan --all`, `md ticks --all`, `md bars`): its
 * body, or undefined when a member refused it — its error is then printed, as every command
 * prints one, and the command exits 1.
 */
export async function pageText(endpoints: readonly string[], path: string): Promise<string | undefined> {
  const res = await callAny(endpoints, path);
  const text = await res.text();
  if (res.ok) return text;
  console.log(prettyJson(text) ?? text);
  return undefined;
}
