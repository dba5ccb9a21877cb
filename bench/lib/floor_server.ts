/**
 * The floor for any node:http front end on this machine: a server that answers the benchmark's
 * requests with JSON of the same shape as quorumkv's (a PUT's body is read, a GET gets a
 * 100-byte value) and does nothing else — no Raft, no storage. Whatever it reaches under a load is
 * the most a Node.js HTTP/1.1 (or, on its second port, HTTP/2) server can serve here under that
 * load, with the client sharing the CPUs. Usage: `node --import tsx bench/lib/floor_server.ts`;
 * prints `listening <http1 port> <h2c port>`.
 */
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';

const VALUE = JSON.stringify('v'.repeat(100));
let revision = 0;

const answer = (method: string | undefined) => {
  revision++;
  return method === 'GET' ? `{"key":"k","value":${VALUE},"revision":${revision}}` : `{"revision":${revision}}`;
};

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    const text = answer(req.method);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;

// HTTP/2 (cleartext, prior knowledge) on Node's core stream API, as quorumkv serves it.
const h2 = createHttp2Server({});
h2.on('stream', (stream, headers) => {
  stream.on('error', () => undefined);
  stream.on('data', () => undefined);
  stream.on('end', () => {
    const text = answer(headers[':method']);
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    stream.end(text);
  });
});

const port = (s: { address(): unknown }) => (s.address() as { port: number }).port;
server.listen(0, '127.0.0.1', () => h2.listen(0, '127.0.0.1', () => console.log(`listening ${port(server)} ${port(h2)}`)));
process.on('SIGTERM', () => {
  h2.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
