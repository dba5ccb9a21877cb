/**
 * HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one port: a TCP server looks at the first
 * bytes of each connection — HTTP/2 starts with the `PRI * HTTP/2.0` preface, which is never a
 * valid HTTP/1.1 request — puts them back and hands the socket to the matching server
 * (../shared/TOOLCHAIN.md has the details that make this work).
 */
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { type ApiContext, handle } from './routes';

const H2_PREFACE_START = Buffer.from('PRI ');

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

export async function startApiServer(ctx: ApiContext, host: string, port: number): Promise<ApiServer> {
  const onRequest = (req: Parameters<typeof handle>[1], res: Parameters<typeof handle>[2]) => void handle(ctx, req, res);
  const h1 = createHttp1Server(onRequest);
  h1.keepAliveTimeout = 60_000;
  const h2 = createHttp2Server({}, onRequest);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
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
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
