/**
 * The floor for any node:http front end on this machine: a server that answers the benchmark's
 * requests with JSON of the same shape as quorumkv's (a PUT's body is read, a GET gets a
 * 100-byte value) and does nothing else — no Raft, no storage. Whatever it reaches under a load is
 * the most a Node.js HTTP/1.1 server can serve here under that load, with the client sharing
 * the CPUs. Usage: `node --import tsx bench/lib/floor_server.ts`; prints `listening <port>`.
 */
import { createServer } from 'node:http';

const VALUE = JSON.stringify('v'.repeat(100));
let revision = 0;

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    revision++;
    const text = req.method === 'GET' ? `{"key":"k","value":${VALUE},"revision":${revision}}` : `{"revision":${revision}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
