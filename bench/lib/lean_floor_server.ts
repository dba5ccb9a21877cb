/**
 * The lean HTTP/1.1 path's own floor: quorumkv's request parser and answer writer
 * (ts/api/h1_lean.ts) on a plain TCP server that answers every request as bench/lib/floor_server.ts
 * does (JSON of quorumkv's shape, a 100-byte value for a GET) and does nothing else. What a node
 * spends per request above this is its routing, Raft and storage; what this spends above nothing
 * is the sockets' and the parser's. Usage: `node --import tsx bench/lib/lean_floor_server.ts`;
 * prints `listening <port>`.
 */
import { createServer } from 'node:net';
import { LeanH1Connection } from '../../ts/api/h1_lean';

const VALUE = JSON.stringify('v'.repeat(100));
const HEADERS = ['content-type', 'application/json'];
let revision = 0;

const server = createServer((socket) => {
  new LeanH1Connection(
    socket,
    (exchange) => {
      revision++;
      const text = exchange.method === 'GET' ? `{"key":"k","value":${VALUE},"revision":${revision}}` : `{"revision":${revision}}`;
      exchange.writeHead(200, HEADERS);
      exchange.end(text);
    },
    // Every request the load sends is lean; anything else has no server to go to here.
    (declined) => declined.destroy(),
  );
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => process.exit(0));
