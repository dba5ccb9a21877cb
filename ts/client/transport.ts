/**
 * How the client talks to one node: HTTP/2 (default: one session per endpoint, many concurrent
 * streams) or HTTP/1.1 keep-alive through Node's fetch (undici's pooled connections). A session
 * that fails or is closed by the server is dropped and the next request opens a new one;
 * sessions hold the process open only while a request is in flight.
 */
import { type ClientRequest, Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connectionLost, QuorumClientError } from './errors';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** TLS for `https://` endpoints: the CA that signed the nodes' certificates, and a client certificate if they ask for one. */
export interface ClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** A streamed answer (watch, market streams, replay): its body arrives as it is written. */
export interface StreamAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  /** The body's chunks; the iteration fails if the connection is lost or stays idle `idleMs`. */
  chunks: AsyncIterable<Buffer>;
  /** Stops the stream (the server sees the request cancelled). */
  cancel(): void;
}

/** `timeoutMs`: until the answer's headers; `idleMs`: the longest silence after them (none if unset). */
export type StreamRequest = HttpRequest & { idleMs?: number };

export interface Transport {
  request(origin: string, req: HttpRequest): Promise<HttpAnswer>;
  openStream(origin: string, req: StreamRequest): Promise<StreamAnswer>;
  close(): void;
}

/** `inner` with `Authorization: Bearer <token>` on every request (nodes started with --auth on). */
export function withToken(inner: Transport, token: string): Transport {
  const authorization = `Bearer ${token}`;
  return {
    request: (origin, r) => inner.request(origin, { ...r, headers: { ...r.headers, authorization } }),
    openStream: (origin, r) => inner.openStream(origin, { ...r, headers: { ...r.headers, authorization } }),
    close: () => inner.close(),
  };
}

/** Flow-control window per stream and per session (HTTP/2 allows up to 2^31 − 1). */
const WINDOW_BYTES = 16 << 20;

const aborted = () => new QuorumClientError('aborted', 'the call was aborted');
const timedOut = (ms: number) => new QuorumClientError('timeout', `no answer within ${ms} ms`);

interface Pooled {
  session: ClientHttp2Session;
  inflight: number;
}

export class Http2Transport implements Transport {
  private readonly sessions = new Map<string, Pooled>();

  constructor(private readonly tls: ClientTls = {}) {}

  private session(origin: string): Pooled {
    const found = this.sessions.get(origin);
    if (found && !found.session.closed && !found.session.destroyed) return found;
    // Large flow-control windows: a batch's answer (hundreds of KB) must not wait for
    // WINDOW_UPDATE round trips at the default 64 KiB.
    const session = connect(origin, { settings: { initialWindowSize: WINDOW_BYTES }, ...this.tls });
    session.on('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
    const pooled: Pooled = { session, inflight: 0 };
    // Errors reach the streams (and fail their requests); the session is dropped for a new one.
    const drop = () => this.sessions.get(origin) === pooled && this.sessions.delete(origin);
    session.on('error', drop);
    session.on('close', drop);
    session.on('goaway', drop);
    session.unref();
    this.sessions.set(origin, pooled);
    return pooled;
  }

  /** Starts `r` on the origin's session, which holds the process open until the stream closes. */
  private begin(origin: string, r: HttpRequest): ClientHttp2Stream {
    const pooled = this.session(origin);
    if (pooled.inflight++ === 0) pooled.session.ref();
    const headers: Record<string, string> = { ':method': r.method, ':path': r.path, ...r.headers };
    if (r.body !== undefined) headers['content-type'] ??= 'application/json';
    const stream = pooled.session.request(headers, { endStream: r.body === undefined });
    stream.on('close', () => {
      if (--pooled.inflight === 0 && !pooled.session.destroyed) pooled.session.unref();
    });
    return stream;
  }

  request(origin: string, r: HttpRequest): Promise<HttpAnswer> {
    if (r.signal?.aborted) return Promise.reject(aborted());
    return new Promise<HttpAnswer>((resolve, reject) => {
      const stream = this.begin(origin, r);
      let status = 0;
      let answerHeaders: Record<string, string | undefined> = {};
      const chunks: Buffer[] = [];
      const fail = (err: QuorumClientError) => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(err);
      };
      const onAbort = () => fail(aborted());
      r.signal?.addEventListener('abort', onAbort, { once: true });
      stream.setTimeout(r.timeoutMs, () => fail(timedOut(r.timeoutMs)));
      stream.on('response', (h) => {
        status = Number(h[':status']);
        answerHeaders = { 'retry-after': h['retry-after'] as string | undefined, 'idempotent-replayed': h['idempotent-replayed'] as string | undefined };
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      // An end without response headers is a stream the server (or a dying session) cut short.
      stream.on('end', () => (status === 0 ? reject(connectionLost(new Error('the stream ended without an answer'))) : resolve({ status, headers: answerHeaders, body: Buffer.concat(chunks) })));
      stream.on('error', (err) => reject(connectionLost(err)));
      stream.on('close', () => {
        r.signal?.removeEventListener('abort', onAbort);
        // Closed without an answer (a reset, the session going away): fail if nothing else did.
        if (status === 0) reject(connectionLost(new Error(`stream closed (code ${stream.rstCode})`)));
      });
      if (r.body !== undefined) stream.end(r.body);
    });
  }

  openStream(origin: string, r: StreamRequest): Promise<StreamAnswer> {
    if (r.signal?.aborted) return Promise.reject(aborted());
    const stream = this.begin(origin, r);
    const cancel = () => stream.close(constants.NGHTTP2_CANCEL);
    return new Promise<StreamAnswer>((resolve, reject) => {
      const fail = (err: QuorumClientError) => {
        cancel();
        reject(err);
      };
      const onAbort = () => fail(aborted());
      const onTimeout = () => fail(timedOut(r.timeoutMs));
      r.signal?.addEventListener('abort', onAbort, { once: true });
      stream.setTimeout(r.timeoutMs, onTimeout);
      stream.once('error', (err) => reject(connectionLost(err)));
      stream.once('close', () => {
        r.signal?.removeEventListener('abort', onAbort);
        reject(connectionLost(new Error(`stream closed (code ${stream.rstCode})`)));
      });
      stream.once('response', (h) => {
        r.signal?.removeEventListener('abort', onAbort);
        stream.removeListener('timeout', onTimeout);
        // From here a silence longer than idleMs fails the body's iteration (then: resume).
        stream.setTimeout(r.idleMs ?? 0, () => stream.destroy(new Error(`no data for ${r.idleMs} ms`)));
        resolve({ status: Number(h[':status']), headers: { 'retry-after': h['retry-after'] as string | undefined }, chunks: stream, cancel });
      });
      if (r.body !== undefined) stream.end(r.body);
    });
  }

  close(): void {
    for (const { session } of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}

/** HTTP/1.1 with keep-alive connection pools (node:http / node:https agents). */
export class Http1Transport implements Transport {
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https: HttpsAgent;

  constructor(private readonly tls: ClientTls = {}) {
    this.https = new HttpsAgent({ keepAlive: true, ...tls });
  }

  /**
   * `r` as a request to `origin` (not yet ended): on the keep-alive pools, or for a stream on a
   * connection of its own (it holds the connection for as long as it runs).
   */
  private begin(origin: string, r: HttpRequest, own: boolean, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const url = new URL(r.path, origin);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined) Object.assign(headers, { 'content-type': headers['content-type'] ?? 'application/json', 'content-length': String(Buffer.byteLength(r.body)) });
    const connection = own ? { agent: false as const, ...(secure ? this.tls : {}) } : { agent: secure ? this.https : this.http };
    const options = { method: r.method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers, ...connection };
    return (secure ? httpsRequest : httpRequest)(options, onResponse);
  }

  request(origin: string, r: HttpRequest): Promise<HttpAnswer> {
    if (r.signal?.aborted) return Promise.reject(aborted());
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = this.begin(origin, r, false, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: { 'retry-after': res.headers['retry-after'], 'idempotent-replayed': res.headers['idempotent-replayed'] as string | undefined }, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(connectionLost(err)));
      });
      const onAbort = () => {
        req.destroy();
        reject(aborted());
      };
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(r.timeoutMs, () => {
        req.destroy();
        reject(timedOut(r.timeoutMs));
      });
      req.on('error', (err) => reject(connectionLost(err)));
      req.on('close', () => r.signal?.removeEventListener('abort', onAbort));
      req.end(r.body);
    });
  }

  openStream(origin: string, r: StreamRequest): Promise<StreamAnswer> {
    if (r.signal?.aborted) return Promise.reject(aborted());
    return new Promise<StreamAnswer>((resolve, reject) => {
      const req = this.begin(origin, r, true, (res) => {
        r.signal?.removeEventListener('abort', onAbort);
        req.removeListener('timeout', onTimeout);
        req.setTimeout(r.idleMs ?? 0, () => req.destroy(new Error(`no data for ${r.idleMs} ms`)));
        resolve({ status: res.statusCode ?? 0, headers: { 'retry-after': res.headers['retry-after'] }, chunks: res, cancel: () => req.destroy() });
      });
      const onAbort = () => {
        req.destroy();
        reject(aborted());
      };
      const onTimeout = () => {
        req.destroy();
        reject(timedOut(r.timeoutMs));
      };
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(r.timeoutMs, onTimeout);
      req.on('error', (err) => reject(connectionLost(err)));
      req.on('close', () => r.signal?.removeEventListener('abort', onAbort));
      req.end(r.body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
