/**
 * The HTTP plumbing shared by every route, the same for HTTP/1.1 (Node's request and response
 * objects) and HTTP/2 (`H2Exchange`, on the core stream API): the request target, the body
 * (bounded), and JSON answers.
 *
 * Limit: `bodyBytesMax` (4 MiB). Past it the body is drained (so the client can read the 413)
 * up to 4× the limit, then the connection is dropped.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { lookup, QuorumError } from '../errors';
import { errorAnswer } from './errors';
import { type Guard, OPEN_GUARD } from '../auth/guard';

/** The events routes listen to, on requests and answers. */
interface Events {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end' | 'close' | 'drain', listener: () => void): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'end' | 'close' | 'drain', listener: () => void): unknown;
}

/** What routes read from a request. */
export interface Req extends Events {
  readonly url?: string;
  readonly method?: string;
  readonly headers: IncomingHttpHeaders;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
}

/** What routes do with an answer. `writeHead` takes a flat [name, value, …] list or an object. */
export interface Res extends Events {
  readonly statusCode: number;
  readonly writableLength: number;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  writeHead(status: number, headers?: string[] | Record<string, string>): unknown;
  flushHeaders(): void;
  write(chunk: string | Buffer): boolean;
  end(chunk?: string | Buffer): unknown;
  destroy(err?: Error): unknown;
}

export const BODY_BYTES_MAX = 4 << 20;

export interface Target {
  /** The path exactly as sent (percent-encoded). */
  path: string;
  query: URLSearchParams;
  /** The request's content-type header, if any. */
  contentType?: string;
  /** The request's accept header, if any. */
  accept?: string;
  /** The request itself, for routes that read their body as it streams in. */
  req?: Req;
  /**
   * What the caller may do: set by `handle` after authentication, before any handler runs
   * (with auth off, everything). Handlers check every key and instrument they touch.
   */
  guard: Guard;
}

/**
 * Splits a request target into path and query without `new URL()`: a target such as `//x`
 * would be read as a host by the URL parser. Anything but an origin-form target (`/path?q`)
 * with valid percent-encoding is 400 `invalid_path`.
 */
export function parseTarget(raw: string | undefined): Target {
  const target = raw ?? '/';
  if (!target.startsWith('/') || target.includes('#')) throw new QuorumError('invalid_path', 'the request target must be a path such as /v1/kv/key');
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  try {
    decodeURIComponent(path);
  } catch {
    throw new QuorumError('invalid_path', 'the path is not valid percent-encoded UTF-8');
  }
  return { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)), guard: OPEN_GUARD };
}

/**
 * The whole body, through 'data'/'end' listeners (an async iterator over the request costs a
 * generator resumption and promises per chunk, on every write).
 */
export function readBody(req: Req): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const settle = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', settle);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > 4 * BODY_BYTES_MAX) {
        settle(bodyTooLarge());
        req.destroy();
      } else if (bytes <= BODY_BYTES_MAX) chunks.push(chunk);
    };
    const onEnd = () => settle(bytes > BODY_BYTES_MAX ? bodyTooLarge() : undefined);
    // Closed before its end (the client went away): there is no one to answer, but settle —
    // as the client's doing, not an internal error for the operator's log.
    const onClose = () => settle(new QuorumError('invalid_request', 'the request closed before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', settle);
    req.on('close', onClose);
  });
}

function bodyTooLarge(): QuorumError {
  return new QuorumError('body_too_large', `bodies are at most ${BODY_BYTES_MAX} bytes`);
}

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, JSON.stringify(body), headers);
}

/**
 * Headers go as a flat [name, value, ...] list: Node takes them as they are, where an object is
 * walked and each name checked again (less work; no speed-up beyond noise was measured).
 */
export function sendRaw(res: Res, status: number, text: string | Buffer, headers: Record<string, string> = {}): void {
  const raw = ['content-type', 'application/json', 'content-length', String(typeof text === 'string' ? Buffer.byteLength(text) : text.length)];
  for (const name in headers) raw.push(name, headers[name]);
  res.writeHead(status, raw);
  res.end(text);
}

export function sendError(res: Res, err: unknown): void {
  const answer = errorAnswer(err);
  const errorClass = lookup(answer.body.error.code).class;
  if (errorClass === 'storage' || errorClass === 'internal') {
    // The client sees the code only; the operator gets the whole message.
    process.stderr.write(`${JSON.stringify({ event: 'request_failed', code: answer.body.error.code, message: err instanceof Error ? err.message : String(err) })}\n`);
  }
  sendJson(res, answer.status, answer.body, answer.headers);
}

/**
 * Starts a streaming answer: status 200 and its headers, sent at once — the first line may be a
 * while coming, and the client waits for the headers.
 */
export function beginStream(res: Res, contentType: string, headers: string[] = []): Res {
  res.writeHead(200, ['content-type', contentType, 'cache-control', 'no-cache', ...headers]);
  res.flushHeaders();
  return res;
}

/** The media type of a content-type header, lower-cased and without parameters. */
export function mediaType(header: string | undefined): string | undefined {
  return header?.split(';')[0].trim().toLowerCase();
}

/** Resolves once `res` drains what it holds, or closes. */
export function drained(res: Res): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
