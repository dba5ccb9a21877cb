/**
 * HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one port: a TCP server looks at the first
 * bytes of each connection — HTTP/2 starts with the `PRI * HTTP/2.0` preface, which is never a
 * valid HTTP/1.1 request — puts them back and hands the socket to the matching server
 * (ARCHITECTURE.md, "HTTP", has the details that make this work).
 *
 * A request Node's HTTP/1.1 parser refuses (malformed, headers too large) is answered with our
 * JSON error shape too (`clientError`), then the connection is closed.
 */
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { errorAnswer } from './errors';
import { QuorumError, UnavailableError } from '../errors';
import { sendError } from './http';
import { type ApiContext, handle } from './routes';

const H2_PREFACE_START = Buffer.from('PRI ');

export interface ApiServer {
  port: number;
  close(drainMs?: number): Promise<void>;
}

export async function startApiServer(ctx: ApiContext, host: string, port: number): Promise<ApiServer> {
  // Draining (SIGTERM): new requests get 503 while those in flight finish.
  let draining = false;
  let inflight = 0;
  let onIdle: (() => void) | undefined;
  const onRequest = (req: Parameters<typeof handle>[1], res: Parameters<typeof handle>[2]) => {
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
  const h1 = createHttp1Server(onRequest);
  h1.on('clientError', answerClientError);
  h1.keepAliveTimeout = 60_000;
  const h2 = createHttp2Server({}, onRequest);
  const sockets = new Set<Socket>();
  // No Nagle: with it, a small write that follows another still unacknowledged waits for the
  // peer's delayed ACK (tens of ms) — streams (replay, watch) and small answers stalled on it.
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first.subarray(0, H2_PREFACE_START.length).equals(H2_PREFACE_START)) {
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
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
