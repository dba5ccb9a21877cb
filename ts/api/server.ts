/**
 * With `--cert`/`--key`: HTTPS, HTTP/2 and HTTP/1.1 on one port chosen by ALPN, certificates
 * reloadable (SIGHUP). Without: HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one port: a TCP server looks at the first
 * bytes of each connection — HTTP/2 starts with the `PRI * HTTP/2.0` preface, which is never a
 * valid HTTP/1.1 request — puts them back and hands the socket to the matching server
 * (ARCHITECTURE.md, "HTTP", has the details that make this work).
 *
 * A request Node's HTTP/1.1 parser refuses (malformed, headers too large) is answered with our
 * JSON error shape too (`clientError`), then the connection is closed.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttp1Server, type Server as Http1Server } from 'node:http';
import { constants, createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import { errorAnswer } from './errors';
import { QuorumError, UnavailableError } from '../errors';
import { H2Exchange } from './h2_exchange';
import { LeanH1Connection } from './h1_lean';
import { inPipelineOrder } from './h1_order';
import { type Req, type Res, sendError } from './http';
import { type ApiContext, handle } from './routes';

type OnRequest = (req: Req, res: Res) => void;

const H2_PREFACE_START = Buffer.from('PRI ');

export interface ApiServer {
  port: number;
  close(drainMs?: number): Promise<void>;
  /** Reads the certificate files again for new connections (SIGHUP); throws if they are bad. */
  reloadTls(): void;
}

/** TLS for the client API: PEM files; with `clientCa`, clients must present a certificate it signed. */
export interface TlsFiles {
  cert: string;
  key: string;
  clientCa?: string;
}

function tlsOptions(files: TlsFiles): TlsOptions {
  const clientCa = files.clientCa === undefined ? undefined : readFileSync(files.clientCa);
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: clientCa, requestCert: clientCa !== undefined, rejectUnauthorized: clientCa !== undefined };
}

/**
 * HTTPS: HTTP/2 and HTTP/1.1 on one port, chosen by ALPN (`h2`, `http/1.1`; a client that
 * names neither gets HTTP/1.1) — the TLS handshake does what the preface sniffing does for
 * cleartext, and the decrypted socket goes to the same two servers.
 */
function secureServer(files: TlsFiles, onRequest: OnRequest, sockets: Set<Socket>, lean: boolean): { server: Server; reload: () => void } {
  const h1 = http1Server(onRequest);
  const h2 = http2Server(onRequest);
  const secure = createTlsServer({ ...tlsOptions(files), ALPNProtocols: ['h2', 'http/1.1'] }, (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
    else if (lean) leanConnection(socket, onRequest, h1);
    else h1.emit('connection', socket);
  });
  secure.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return { server: secure, reload: () => secure.setSecureContext(tlsOptions(files)) };
}

function http1Server(onRequest: OnRequest): Http1Server {
  const h1 = createHttp1Server(inPipelineOrder(onRequest));
  h1.on('clientError', answerClientError);
  h1.keepAliveTimeout = 60_000;
  return h1;
}

/** HTTP/2 on the core stream API: one `H2Exchange` is the request and its answer. */
function http2Server(onRequest: OnRequest): Http2Server {
  const h2 = createHttp2Server({});
  h2.on('stream', (stream, headers, flags) => {
    const exchange = new H2Exchange(stream, headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    onRequest(exchange, exchange);
  });
  return h2;
}

/**
 * `http1`: `lean` serves the common HTTP/1.1 requests on `LeanH1Connection` (the rest go to
 * Node's server on the same connection), over TLS too; `node` gives every one to Node's server.
 */
export async function startApiServer(ctx: ApiContext, host: string, port: number, tls?: TlsFiles, http1: 'lean' | 'node' = 'lean'): Promise<ApiServer> {
  // Draining (SIGTERM): new requests get 503 while those in flight finish.
  let draining = false;
  let inflight = 0;
  let onIdle: (() => void) | undefined;
  const onRequest: OnRequest = (req, res) => {
    if (draining) {
      // (No `connection: close` header: HTTP/2 forbids it; the sockets are closed after the drain.)
      sendError(res, new UnavailableError('the node is shutting down'));
      return;
    }
    inflight++;
    void handle(ctx, req, res).finally(() => {
      if (--inflight === 0) onIdle?.();
    });
  };
  const sockets = new Set<Socket>();
  const secure = tls ? secureServer(tls, onRequest, sockets, http1 === 'lean') : undefined;
  const server = secure?.server ?? plainServer(onRequest, sockets, http1 === 'lean');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    reloadTls: () => {
      if (!secure) throw new Error('this node serves plaintext (no --cert): nothing to reload');
      secure.reload();
    },
    /** Stops accepting, lets requests in flight finish (at most `drainMs`), then disconnects. */
    close: async (drainMs = 5000) => {
      draining = true;
      // Watch streams never finish by themselves: end them with a last line saying why.
      ctx.node.feed.endAll('the node is stopping');
      ctx.node.market.stream.endAll('the node is stopping');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** HTTP/1.1 on the lean path; a declined connection goes on with Node's server `h1`. */
function leanConnection(socket: Socket, onRequest: OnRequest, h1: Http1Server): LeanH1Connection {
  return new LeanH1Connection(socket, (exchange) => onRequest(exchange, exchange), (declined) => h1.emit('connection', declined));
}

/** Cleartext: HTTP/1.1 and h2c (prior knowledge) told apart by the first bytes. */
function plainServer(onRequest: OnRequest, sockets: Set<Socket>, lean: boolean): Server {
  const h1 = http1Server(onRequest);
  const h2 = http2Server(onRequest);
  // No Nagle: with it, a small write that follows another still unacknowledged waits for the
  // peer's delayed ACK (tens of ms) — streams (replay, watch) and small answers stalled on it.
  return createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first.subarray(0, H2_PREFACE_START.length).equals(H2_PREFACE_START)) {
        h2.emit('connection', socket);
      } else if (lean) {
        leanConnection(socket, onRequest, h1);
        socket.resume();
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
}

/** Node's HTTP/1.1 parser refused a request: answer in our JSON error shape, then close. */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // Operators see why a connection was refused or closed (a parse error, a request timeout).
  process.stderr.write(`${JSON.stringify({ event: 'client_error', code: err.code ?? null, message: err.message, remote: socket.remoteAddress ?? null })}\n`);
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const error = tooLarge ? new QuorumError('headers_too_large', 'the request headers are too large') : new QuorumError('invalid_request', `malformed HTTP/1.1 request (${err.code ?? 'parse error'})`);
  const answer = errorAnswer(error);
  const text = JSON.stringify(answer.body);
  const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(`HTTP/1.1 ${answer.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}
