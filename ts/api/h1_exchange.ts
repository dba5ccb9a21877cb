/**
 * One HTTP/1.1 request and its answer on a lean connection (`h1_lean.ts`): the few request and
 * response members routes use (`Req`, `Res` in http.ts), as `H2Exchange` gives them for HTTP/2.
 *
 * The request's body is complete before the exchange exists (the connection reads it by its
 * content-length); it is handed to whoever listens for 'data' (readBody) one microtask later,
 * then 'end'. The answer is framed here — content-length when the route gives one or ends with
 * a single chunk, chunked otherwise — and handed to the connection, which writes the answers of
 * a connection in request order and many of them in one system call.
 *
 * Invariants: the head goes out once, before any body byte; nothing is written after `end` or
 * once the connection closed (dropped, as Node's responses drop it); 'close' is emitted once.
 */
import { EventEmitter } from 'node:events';
import { type IncomingHttpHeaders, STATUS_CODES } from 'node:http';
import { invariant } from '../raft/assert';

/** What an exchange needs from its connection. */
export interface ExchangeSink {
  /** Bytes of this exchange's answer, in order (held back while earlier answers are unfinished). */
  send(exchange: H1Exchange, piece: string | Buffer): void;
  /** The answer is complete. */
  finished(exchange: H1Exchange): void;
  /** Bytes waiting to reach the socket (backpressure for streaming routes). */
  readonly bufferedBytes: number;
  destroy(): void;
}

/** A header name or value that would split the head (Node refuses them the same way). */
const UNSAFE = /[\r\n]/;
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

export class H1Exchange extends EventEmitter {
  statusCode = 200;
  private headerList: string[] = [];
  private headSent = false;
  private chunked = false;
  private ended = false;
  private closed = false;
  private bodyDelivered = false;

  constructor(
    private readonly sink: ExchangeSink,
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
    private readonly body: Buffer,
    /** The client asked to close the connection after this answer (`connection: close`). */
    readonly closeAfter: boolean,
  ) {
    super();
  }

  get writableLength(): number {
    return this.sink.bufferedBytes;
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  // --- the request side ---------------------------------------------------------------------

  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === 'data') this.deliverBody();
    return this;
  }

  /** Flows the body to its reader (as a paused Node request does once read). */
  resume(): this {
    this.deliverBody();
    return this;
  }

  pause(): this {
    return this;
  }

  private deliverBody(): void {
    if (this.bodyDelivered) return;
    this.bodyDelivered = true;
    // A microtask later: readBody adds its 'end' and 'error' listeners right after 'data'.
    queueMicrotask(() => {
      if (this.body.length > 0) this.emit('data', this.body);
      this.emit('end');
    });
  }

  // --- the response side --------------------------------------------------------------------

  writeHead(status: number, headers: string[] | Record<string, string> = []): this {
    invariant(!this.headSent, 'writeHead after the head was sent');
    this.statusCode = status;
    const list = Array.isArray(headers) ? headers : Object.entries(headers).flat();
    for (const part of list) if (UNSAFE.test(part)) throw new TypeError(`invalid character in a header: ${JSON.stringify(part)}`);
    this.headerList = list;
    return this;
  }

  flushHeaders(): void {
    if (!this.headSent && !this.closed) this.sendHead(undefined);
  }

  write(chunk: string | Buffer): boolean {
    if (this.ended || this.closed) return false;
    if (!this.headSent) this.sendHead(undefined);
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (bytes === 0) return true;
    if (this.chunked) this.sink.send(this, `${bytes.toString(16)}${CRLF}`);
    this.sink.send(this, chunk);
    if (this.chunked) this.sink.send(this, CRLF);
    return this.sink.bufferedBytes < WRITABLE_BYTES_HIGH;
  }

  end(chunk?: string | Buffer): this {
    if (this.ended || this.closed) return this;
    if (!this.headSent) {
      // The whole answer at once: framed by its length (a route may have given it already).
      this.sendHead(chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
      if (chunk !== undefined && chunk.length > 0) this.sink.send(this, chunk);
    } else {
      if (chunk !== undefined) this.write(chunk);
      if (this.chunked) this.sink.send(this, LAST_CHUNK);
    }
    this.ended = true;
    this.sink.finished(this);
    return this;
  }

  /** Drops the connection, as destroying Node's request or response does. */
  destroy(): this {
    this.sink.destroy();
    return this;
  }

  /** The connection closed, or this answer was written: routes clean up on 'close' (once). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  /**
   * The status line and headers. `bodyBytes`: the whole body's length when it is known now;
   * without it (and without a content-length from the route) the body is chunked.
   */
  private sendHead(bodyBytes: number | undefined): void {
    this.headSent = true;
    let head = `HTTP/1.1 ${this.statusCode} ${STATUS_CODES[this.statusCode] ?? 'Unknown'}${CRLF}`;
    let length = false;
    for (let i = 0; i + 1 < this.headerList.length; i += 2) {
      const name = this.headerList[i];
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      head += `${name}: ${this.headerList[i + 1]}${CRLF}`;
    }
    if (!length && bodyBytes !== undefined) head += `content-length: ${bodyBytes}${CRLF}`;
    else if (!length) {
      this.chunked = true;
      head += `transfer-encoding: chunked${CRLF}`;
    }
    if (this.closeAfter) head += `connection: close${CRLF}`;
    this.sink.send(this, head + CRLF);
  }
}

/** A streaming route's `write` returns false past this many bytes waiting (it then waits for 'drain'). */
export const WRITABLE_BYTES_HIGH = 64 << 10;
