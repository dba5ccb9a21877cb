/**
 * A lean HTTP/1.1 path for the requests that make up the load — key reads and writes, batches,
 * multi-gets, transactions, market ingest and book reads — on cleartext and TLS connections.
 *
 * Why: Node's HTTP/1.1 server's per-request objects and its answer chain — each answer written by
 * its own system call, the next pipelined answer only after the last one's write callback — were
 * most of a leader's thread under a burst, where every refusal paid for them too. With one request
 * per connection at a time the two cost about the same: 13.2 against 12.9 CPU-µs per GET, 15.3
 * against 13.1 per PUT on a warmed do-nothing server (`npm run bench:http-floor`).
 *
 * It serves only what it can serve exactly: a request in the strict form below, on a route that
 * answers in one piece. Anything else — another method or route, `transfer-encoding`, `upgrade`,
 * `expect`, a repeated header, a missing `host`, bytes outside the grammar, a head or body over the
 * limits — is *declined*: once the answers already started are written, the connection and
 * every byte not yet consumed go to Node's server for good (which answers it, or refuses it with
 * its usual errors). So a request is never refused here, and never half-read.
 *
 * Limits: `HEAD_BYTES_MAX` (Node's default header limit), bodies up to `BODY_BYTES_MAX` (larger
 * ones are declined: Node's path answers 413), `PIPELINED_MAX` requests parsed ahead of their
 * answers and `OUT_BYTES_MAX` of answers waiting for the socket (past either, reading pauses).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { invariant } from '../raft/assert';
import { type ExchangeSink, H1Exchange } from './h1_exchange';
import { BODY_BYTES_MAX } from './http';
import { runClass, sharesRun } from './h1_order';

export const HEAD_BYTES_MAX = 16 << 10;
export const PIPELINED_MAX = 256;
export const OUT_BYTES_MAX = 4 << 20;
/** Idle connections are closed after this long (Node's server: `keepAliveTimeout` here too). */
export const IDLE_MS = 60_000;

/** Methods and routes served here; routes whose answers stream, or that read their own body, are not. */
const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'PATCH']);
const PREFIXES = ['/v1/kv/', '/v1/md/books/', '/v1/md/ticks/', '/v1/md/bars/'];
const PATHS = new Set(['/v1/kv', '/v1/multiget', '/v1/txn', '/v1/batch', '/v1/sessions', '/v1/md/events', '/v1/md/bars', '/v1/md/feeds', '/v1/md/instruments', '/v1/cluster', '/health']);

const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** RFC 9110 token name, then a value of visible ASCII, spaces and tabs (no obs-fold, no obs-text). */
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$/;
const DIGITS = /^\d{1,8}$/;
const HEAD_END = Buffer.from('\r\n\r\n');

export type Declined = (socket: Socket) => void;

/** A request read off the buffer, or why the connection goes to Node (undefined: not all here yet). */
type Parsed = { exchange: H1Exchange; bytes: number } | { decline: string } | undefined;

export class LeanH1Connection implements ExchangeSink {
  private buffered: Buffer = Buffer.alloc(0);
  /**
   * Chunks received after `buffered` while a body is incomplete, joined once it is all here
   * (joining on every chunk copied a 4 MiB body ~64 times).
   */
  private later: Buffer[] = [];
  private laterBytes = 0;
  /** Bytes `buffered` must reach for the request at its start (0: unknown yet). */
  private needBytes = 0;
  /** Requests answered in order: the first writes through, the rest hold their pieces. */
  private readonly exchanges: H1Exchange[] = [];
  private readonly held = new Map<H1Exchange, (string | Buffer)[]>();
  private out: (string | Buffer)[] = [];
  private outBytes = 0;
  private flushing = false;
  /** A request parsed but not started: it waits for the answers before it (`mayStartLast`); reading pauses meanwhile. */
  private waiting: H1Exchange | undefined;
  /** Reading paused for backpressure (not for good). */
  private paused = false;
  /** Set once a request was declined (or the client asked to close): nothing more is parsed. */
  private stopped: 'decline' | 'close' | undefined;
  private closed = false;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onDrain = () => this.afterDrain();
  private readonly onClose = () => this.teardown();
  /** A reset or broken pipe: the socket is dropped ('close' follows). Without a listener it would be thrown. */
  private readonly onError = () => this.socket.destroy();
  private readonly onTimeout = () => this.exchanges.length === 0 && this.socket.destroy();

  constructor(
    private readonly socket: Socket,
    private readonly onRequest: (exchange: H1Exchange) => void,
    private readonly toNode: Declined,
  ) {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.setTimeout(IDLE_MS);
    socket.on('timeout', this.onTimeout);
  }

  get bufferedBytes(): number {
    return this.outBytes + this.socket.writableLength;
  }

  send(exchange: H1Exchange, piece: string | Buffer): void {
    if (this.closed) return;
    if (exchange !== this.exchanges[0]) {
      this.held.get(exchange)?.push(piece);
      return;
    }
    this.queue(piece);
  }

  finished(exchange: H1Exchange): void {
    if (exchange !== this.exchanges[0]) return; // its turn comes when those before it finish
    while (this.exchanges.length > 0) {
      // The new head writes through from now on: what it held goes first.
      const head = this.exchanges[0];
      for (const piece of this.held.get(head) ?? []) this.queue(piece);
      this.held.delete(head);
      if (!head.writableEnded) break;
      this.exchanges.shift();
      head.close();
      if (head.closeAfter) this.stopped = 'close';
    }
    const next = this.waiting;
    if (next !== undefined && this.mayStartLast()) {
      this.waiting = undefined;
      this.onRequest(next);
    }
    this.maybeResume();
  }

  /**
   * Whether the last request in `exchanges` (the only one not started) may start now: alone, or
   * sharing a run with those before it (`h1_order.ts`). Those started form one run (a request
   * starts only beside its own class), so the first names its class.
   */
  private mayStartLast(): boolean {
    const n = this.exchanges.length;
    const [first, last] = [this.exchanges[0], this.exchanges[n - 1]];
    return n === 1 || sharesRun(runClass(first.method, first.url), runClass(last.method, last.url));
  }

  /** Drops the connection (a route gave up on the request); no 'error' is raised for it. */
  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.buffered.length + this.laterBytes + chunk.length < this.needBytes) {
      this.later.push(chunk);
      this.laterBytes += chunk.length;
      return;
    }
    this.buffered = this.buffered.length === 0 && this.later.length === 0 ? chunk : Buffer.concat([this.buffered, ...this.later, chunk]);
    this.later = [];
    this.laterBytes = 0;
    this.needBytes = 0;
    this.parseAll();
  }

  /** Reads every complete request buffered, unless stopped or too many are waiting for answers. */
  private parseAll(): void {
    while (this.stopped === undefined && this.waiting === undefined && this.exchanges.length < PIPELINED_MAX && this.buffered.length > 0) {
      const parsed = this.parseOne();
      if (parsed === undefined) break;
      if ('decline' in parsed) {
        this.stopped = 'decline';
        break;
      }
      this.buffered = this.buffered.subarray(parsed.bytes);
      this.exchanges.push(parsed.exchange);
      if (this.exchanges.length > 1) this.held.set(parsed.exchange, []);
      if (parsed.exchange.closeAfter) this.stopped = 'close';
      if (this.mayStartLast()) this.onRequest(parsed.exchange);
      else this.waiting = parsed.exchange;
    }
    this.maybeResume();
  }

  /** The next request, if all of it is buffered and it is one this path serves. */
  private parseOne(): Parsed {
    const buf = this.buffered;
    const headEnd = buf.indexOf(HEAD_END);
    if (headEnd < 0) return buf.length > HEAD_BYTES_MAX ? { decline: 'head too large' } : undefined;
    if (headEnd > HEAD_BYTES_MAX) return { decline: 'head too large' };
    const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
    const start = REQUEST_LINE.exec(lines[0]);
    if (!start || !METHODS.has(start[1]) || !served(start[2])) return { decline: 'not a lean request' };
    const headers: IncomingHttpHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const h = HEADER_LINE.exec(lines[i]);
      if (!h) return { decline: 'header outside the grammar' };
      const name = h[1].toLowerCase();
      if (headers[name] !== undefined) return { decline: `repeated header ${name}` };
      headers[name] = h[2];
    }
    if (headers.host === undefined || headers['transfer-encoding'] !== undefined || headers.upgrade !== undefined || headers.expect !== undefined) return { decline: 'framing or upgrade headers' };
    const connection = headers.connection?.toLowerCase();
    if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') return { decline: 'connection options' };
    const length = headers['content-length'];
    if (length !== undefined && !DIGITS.test(length)) return { decline: 'content-length' };
    const bodyBytes = length === undefined ? 0 : Number(length);
    if (bodyBytes > BODY_BYTES_MAX) return { decline: 'body too large' };
    const bytes = headEnd + HEAD_END.length + bodyBytes;
    if (buf.length < bytes) {
      this.needBytes = bytes;
      return undefined;
    }
    // A view, not a copy: socket reads are fresh buffers, never reused.
    const body = bodyBytes === 0 ? EMPTY : buf.subarray(headEnd + HEAD_END.length, bytes);
    return { exchange: new H1Exchange(this, start[1], start[2], headers, body, connection === 'close'), bytes };
  }

  private queue(piece: string | Buffer): void {
    this.out.push(piece);
    this.outBytes += piece.length;
    if (!this.flushing) {
      this.flushing = true;
      // Every answer finished in this wave of callbacks and promise reactions leaves in one
      // system call (a setImmediate batched more but waited out the rest of the poll phase:
      // p50 16 vs 8 ms at 7K writes/s through a pipelining client).
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    if (this.closed) return;
    const pieces = this.out;
    this.out = [];
    this.outBytes = 0;
    this.socket.cork();
    for (const piece of pieces) this.socket.write(piece);
    this.socket.uncork();
    this.maybeResume();
  }

  private afterDrain(): void {
    for (const e of this.exchanges) e.emit('drain');
    this.maybeResume();
  }

  /**
   * Reading pauses while too much waits for the client (parsing goes on once it drained), and
   * for good once stopped: then, when every answer is out, the socket ends or goes to Node.
   */
  private maybeResume(): void {
    if (this.closed) return;
    if (this.stopped !== undefined) {
      this.socket.pause();
      if (this.exchanges.length > 0 || this.flushing) return;
      if (this.stopped === 'close') this.socket.end();
      else this.handOff();
      return;
    }
    const full = this.exchanges.length >= PIPELINED_MAX || this.bufferedBytes > OUT_BYTES_MAX || this.waiting !== undefined;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
      if (this.buffered.length > 0) queueMicrotask(() => this.parseAll());
    }
  }

  /** Every answer started here is written: the connection, unread bytes first, is Node's now. */
  private handOff(): void {
    invariant(this.exchanges.length === 0 && this.out.length === 0, 'a connection handed to Node with answers pending');
    if (this.closed) return;
    this.closed = true;
    const { socket } = this;
    socket.off('data', this.onData);
    socket.off('drain', this.onDrain);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
    socket.off('timeout', this.onTimeout);
    socket.setTimeout(0);
    socket.pause();
    const unread = this.later.length === 0 ? this.buffered : Buffer.concat([this.buffered, ...this.later]);
    if (unread.length > 0) socket.unshift(unread);
    this.buffered = EMPTY;
    this.later = [];
    this.toNode(socket);
    socket.resume();
  }

  /** The socket closed: every exchange still open is told (streams and waiters clean up). */
  private teardown(): void {
    this.closed = true;
    for (const e of this.exchanges.splice(0)) e.close();
    this.waiting = undefined;
    this.held.clear();
    this.later = [];
    this.out = [];
    this.outBytes = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** The path of a request target served here (its query is the route's business). */
function served(target: string): boolean {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (PATHS.has(path)) return true;
  for (const p of PREFIXES) if (path.startsWith(p)) return true;
  return false;
}
