/**
 * One HTTP/2 request and its answer, on Node's core stream API instead of its compatibility
 * layer (`Http2ServerRequest`/`Http2ServerResponse`). The compatibility layer costs about 1.5×
 * the core API's CPU per request on a do-nothing server (it builds two objects and a Readable
 * per stream, and asks for trailers on every answer: one more JavaScript turn and an empty DATA
 * frame), which is most of why HTTP/2 cost more than HTTP/1.1 per request here
 * (ARCHITECTURE.md, "HTTP"). This class gives the routes the few request and response members
 * they use (`Req`, `Res` in http.ts), delegating to the stream, which is itself a Duplex.
 *
 * Invariants: a stream that closed or was reset (the client went away) takes no further headers
 * or data — they are dropped, as Node's response objects drop them, never thrown at the route.
 * The answer to a HEAD request is its headers only: Node ends such a stream's writable side
 * when the request arrives, so a body is dropped too.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';

/** Node's own listener type for streams. */
type Listener = Parameters<ServerHttp2Stream['on']>[1];
/** A response's headers as routes give them: Node's flat [name, value, …] list or an object. */
type HeaderList = string[] | OutgoingHttpHeaders;

export class H2Exchange {
  statusCode = 200;
  readonly url: string | undefined;
  readonly method: string | undefined;

  /**
   * @param endedRequest the request's HEADERS frame ended the stream (END_STREAM): it has no body.
   */
  constructor(
    private readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    private readonly endedRequest: boolean,
  ) {
    this.url = headers[':path'];
    this.method = headers[':method'];
    // A reset by the client (a cancelled call) surfaces as an 'error' on the stream; without a
    // listener it would be thrown. 'close' follows it, and routes clean up on 'close'.
    stream.on('error', ignore);
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  get writableEnded(): boolean {
    return this.stream.writableEnded;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  writeHead(status: number, headers: HeaderList = []): this {
    if (this.gone()) return this;
    // (Twice throws ERR_HTTP2_HEADERS_SENT, as Node's responses throw: a route bug, not the client.)
    this.statusCode = status;
    const out: OutgoingHttpHeaders = { ':status': status };
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) out[headers[i]] = headers[i + 1];
    } else Object.assign(out, headers);
    this.stream.respond(out);
    return this;
  }

  /** Headers are sent by `respond` at once; kept for the Node response shape. */
  flushHeaders(): void {
    if (!this.stream.headersSent) this.writeHead(this.statusCode);
  }

  write(chunk: string | Buffer): boolean {
    if (this.gone()) return false;
    if (!this.stream.headersSent) this.writeHead(this.statusCode);
    return this.stream.writableEnded ? false : this.stream.write(chunk);
  }

  end(chunk?: string | Buffer): this {
    if (this.gone()) return this;
    if (!this.stream.headersSent) this.writeHead(this.statusCode);
    if (this.stream.writableEnded) return this;
    if (chunk === undefined) this.stream.end();
    else this.stream.end(chunk);
    // Answered before the body was read (an error, a throttled call): read the rest and drop
    // it, as Node's HTTP/1.1 server does. Closed with the body unread, the stream is reset while
    // the client still sends: in the fuzz test (Node's client) 3.6% of h2 streams then died in
    // session resets (ENHANCE_YOUR_CALM); with the body drained, none.
    if (!this.endedRequest) this.stream.resume();
    return this;
  }

  destroy(err?: Error): void {
    this.stream.destroy(err);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  on(event: string, listener: Listener): this {
    this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.stream.off(event, listener);
    return this;
  }

  private gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }
}

function ignore(): void {}
