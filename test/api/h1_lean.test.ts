/**
 * The lean HTTP/1.1 path (`ts/api/h1_lean.ts`) on a real socket, with test routes standing in for
 * the API: answers in request order whatever order handlers finish in, bodies read whole across
 * TCP segments, streamed answers chunked, and every request outside its grammar handed — with
 * the connection and the bytes not yet read — to Node's server after the answers already started.
 */
import test from 'ava';
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { H1Exchange } from '../../ts/api/h1_exchange';
import { LeanH1Connection } from '../../ts/api/h1_lean';
import { BODY_BYTES_MAX, readBody } from '../../ts/api/http';
import { pollUntil } from '../helpers/poll';

interface Harness {
  port: number;
  /** Paths the lean path served, in arrival order. */
  lean: string[];
  /** Exchanges that saw 'close' (and whether they had answered by then). */
  closed: string[];
  /** `start METHOD path` and `end METHOD path` of the `after` route, in order. */
  log: string[];
}

/** Routes: `/v1/kv/after/<ms>` answers its path after ms; `/v1/kv/echo` its body; `/v1/kv/stream` in three writes. */
async function harness(t: { teardown(fn: () => void): void }): Promise<Harness> {
  const h: Harness = { port: 0, lean: [], closed: [], log: [] };
  const node = createHttpServer((req, res) => {
    const text = `node ${req.method} ${req.url}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(text.length) });
    res.end(text);
  });
  const onRequest = (ex: H1Exchange): void => {
    h.lean.push(ex.url);
    ex.on('close', () => h.closed.push(`${ex.url}${ex.writableEnded ? ' (answered)' : ''}`));
    if (ex.url.startsWith('/v1/kv/after/')) {
      h.log.push(`start ${ex.method} ${ex.url}`);
      setTimeout(() => {
        h.log.push(`end ${ex.method} ${ex.url}`);
        ex.writeHead(200, ['content-type', 'text/plain']).end(ex.url);
      }, Number(ex.url.split('/').pop()));
    } else if (ex.url === '/v1/kv/echo') {
      void readBody(ex).then((body) => ex.writeHead(200, []).end(`echo ${body.length} ${body.subarray(0, 8).toString()}`));
    } else if (ex.url === '/v1/kv/stream') {
      ex.writeHead(200, ['content-type', 'text/plain']);
      ex.write('one,');
      setTimeout(() => {
        ex.write('two,');
        ex.end('three');
      }, 5);
    } else ex.writeHead(200, []).end(`lean ${ex.method} ${ex.url}`);
  };
  const server: Server = createServer((socket) => new LeanH1Connection(socket, onRequest, (s) => node.emit('connection', s)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  h.port = (server.address() as { port: number }).port;
  t.teardown(() => {
    server.close();
    node.close();
  });
  return h;
}

/** Sends `raw` (in `pieces` writes, 2 ms apart) and reads until the server ends, `answers` whole answers arrived, or `doneWhen` holds. */
function exchange(port: number, raw: string, answers: number, pieces = 1, doneWhen?: (text: string) => boolean): Promise<{ text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => resolve({ text, socket });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (doneWhen ? doneWhen(text) : bodies(text).length >= answers) done();
    });
    socket.on('end', done);
    socket.on('error', reject);
    const size = Math.ceil(raw.length / pieces);
    const send = (at: number) => {
      if (at >= raw.length) return;
      socket.write(raw.slice(at, at + size));
      setTimeout(() => send(at + size), 2);
    };
    send(0);
  });
}

/** The bodies of the whole answers at the start of `text`, in order (chunked ones decoded); a partial last one is left out. */
function bodies(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return out;
    const head = text.slice(at, headEnd).toLowerCase();
    const length = /content-length: (\d+)/.exec(head);
    if (length) {
      const end = headEnd + 4 + Number(length[1]);
      if (text.length < end) return out;
      out.push(text.slice(headEnd + 4, end));
      at = end;
      continue;
    }
    if (!head.includes('transfer-encoding: chunked')) return out;
    let body = '';
    let p = headEnd + 4;
    for (;;) {
      const lineEnd = text.indexOf('\r\n', p);
      if (lineEnd < 0) return out;
      const size = parseInt(text.slice(p, lineEnd), 16);
      p = lineEnd + 2;
      if (size === 0) break;
      if (text.length < p + size + 2) return out;
      body += text.slice(p, p + size);
      p += size + 2;
    }
    if (text.length < p + 2) return out;
    out.push(body);
    at = p + 2;
  }
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nhost: x\r\n${extra}\r\n`;

test('pipelined answers leave in request order whatever order their handlers finish in', async (t) => {
  const h = await harness(t);
  const raw = get('/v1/kv/after/30') + get('/v1/kv/after/1') + get('/v1/kv/a') + get('/v1/kv/after/10');
  const { text, socket } = await exchange(h.port, raw, 4);
  socket.destroy();
  t.deepEqual(bodies(text), ['/v1/kv/after/30', '/v1/kv/after/1', 'lean GET /v1/kv/a', '/v1/kv/after/10']);
  t.deepEqual(h.lean, ['/v1/kv/after/30', '/v1/kv/after/1', '/v1/kv/a', '/v1/kv/after/10']);
});

test('pipelined requests run in runs: reads side by side, key writes side by side, anything else alone', async (t) => {
  const h = await harness(t);
  const write = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n`;
  const paths = ['GET 30', 'GET 2', 'PUT 20', 'DELETE 5', 'GET 15', 'GET 1', 'POST 3', 'POST 1', 'GET 4'].map((r) => r.split(' '));
  const raw = paths.map(([method, ms]) => (method === 'GET' ? get(`/v1/kv/after/${ms}`) : write(method, `/v1/kv/after/${ms}`))).join('');
  const { text, socket } = await exchange(h.port, raw, paths.length);
  socket.destroy();
  t.deepEqual(bodies(text), paths.map(([, ms]) => `/v1/kv/after/${ms}`));
  const run = (...rs: string[][]) => [...rs.map((r) => `start ${r.join(' ')}`), ...rs.map((r) => `end ${r.join(' ')}`)];
  const ended = (a: string, b: string) => [`start ${a}`, `start ${b}`, `end ${b}`, `end ${a}`];
  t.deepEqual(h.log, [
    ...ended('GET /v1/kv/after/30', 'GET /v1/kv/after/2'),
    ...ended('PUT /v1/kv/after/20', 'DELETE /v1/kv/after/5'),
    ...ended('GET /v1/kv/after/15', 'GET /v1/kv/after/1'),
    ...run(['POST', '/v1/kv/after/3']),
    ...run(['POST', '/v1/kv/after/1']),
    ...run(['GET', '/v1/kv/after/4']),
  ]);
});

test('a body split over many TCP segments is read whole, and the next request after it too', async (t) => {
  const h = await harness(t);
  const body = 'x'.repeat(50_000);
  const raw = `PUT /v1/kv/echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}` + get('/v1/kv/b');
  const { text, socket } = await exchange(h.port, raw, 2, 40);
  socket.destroy();
  t.deepEqual(bodies(text), ['echo 50000 xxxxxxxx', 'lean GET /v1/kv/b']);
});

test('an answer written in pieces is chunked, and Node\u2019s client reads it whole', async (t) => {
  const h = await harness(t);
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: h.port, path: '/v1/kv/stream' }, (res) => {
      t.is(res.headers['transfer-encoding'], 'chunked');
      let s = '';
      res.on('data', (d: Buffer) => (s += d.toString()));
      res.on('end', () => resolve(s));
    })
      .on('error', reject)
      .end();
  });
  t.is(text, 'one,two,three');
});

test('requests outside the lean grammar go to Node with the connection, after the lean answers', async (t) => {
  const h = await harness(t);
  const declined = [
    `HEAD /v1/kv/a HTTP/1.1\r\nhost: x\r\n\r\n`,
    `GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n`,
    `POST /v1/kv/echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    `GET /v1/kv/a HTTP/1.1\r\nhost: x\r\nx-a: 1\r\nx-a: 2\r\n\r\n`,
    `GET /v1/kv/a HTTP/1.1\r\nhost: x\r\nx-a: caf\u00e9\r\n\r\n`, // obs-text: Node takes it, the lean grammar does not
  ];
  for (const [i, d] of declined.entries()) {
    const before = h.lean.length;
    const last = 'node GET /v1/kv/after';
    const { text, socket } = await exchange(h.port, get('/v1/kv/first') + d + get('/v1/kv/after'), 3, 1, (s) => s.endsWith(last));
    socket.destroy();
    const statuses = text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    t.is(statuses.length, 3, `case ${i}: ${text}`);
    t.true(text.startsWith('HTTP/1.1 200 OK\r\n') && text.includes('\r\n\r\nlean GET /v1/kv/first'), `case ${i}`);
    // The declined request is answered by Node (a HEAD answer has no body), then the last one is too.
    if (!d.startsWith('HEAD')) t.true(text.includes(`node ${d.split(' ')[0]} `), `case ${i}: ${text}`);
    t.true(text.endsWith(last), `case ${i}: the connection stays Node's`);
    t.deepEqual(h.lean.slice(before), ['/v1/kv/first'], `case ${i}`);
  }
});

test('requests Node refuses are refused by Node (and nothing after them read here)', async (t) => {
  const h = await harness(t);
  const refused = [
    `PUT /v1/kv/echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd`,
    `GET /v1/kv/a HTTP/1.1\r\n\r\n`, // no host
  ];
  for (const [i, r] of refused.entries()) {
    const { text, socket } = await exchange(h.port, get('/v1/kv/first') + r + get('/v1/kv/after'), 3, 1, () => false);
    socket.destroy();
    t.true(text.includes('\r\n\r\nlean GET /v1/kv/first'), `case ${i}`);
    t.regex(text, /HTTP\/1\.1 400 /, `case ${i}`);
    t.false(text.includes('/v1/kv/after'), `case ${i}: Node closed the connection`);
  }
  t.deepEqual(h.lean, ['/v1/kv/first', '/v1/kv/first']);
});

test('a body over the limit goes to Node (which answers 413 in the API) before any of it is buffered here', async (t) => {
  const h = await harness(t);
  const raw = `PUT /v1/kv/echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${BODY_BYTES_MAX + 1}\r\n\r\nabc`;
  const { text, socket } = await exchange(h.port, raw, 1, 1, (s) => s.includes('node PUT /v1/kv/echo'));
  socket.destroy();
  t.true(text.endsWith('node PUT /v1/kv/echo'));
  t.deepEqual(h.lean, []);
});

test('an HTTP/1.0 request goes to Node, which answers it and closes as HTTP/1.0 asks', async (t) => {
  const h = await harness(t);
  const { text } = await exchange(h.port, get('/v1/kv/first') + `GET /v1/kv/a HTTP/1.0\r\nhost: x\r\n\r\n` + get('/v1/kv/after'), 3, 1, () => false);
  t.true(text.includes('\r\n\r\nlean GET /v1/kv/first'));
  t.true(text.endsWith('\r\n\r\nnode GET /v1/kv/a'));
  t.deepEqual(h.lean, ['/v1/kv/first']);
});

test('connection: close ends the connection after its answer; later bytes are not read', async (t) => {
  const h = await harness(t);
  const { text } = await exchange(h.port, get('/v1/kv/a', 'connection: close\r\n') + get('/v1/kv/b'), 2);
  t.deepEqual(bodies(text), ['lean GET /v1/kv/a']);
  t.regex(text, /connection: close/);
  t.deepEqual(h.lean, ['/v1/kv/a']);
});

test('a client that leaves mid-answer: the exchange is told (close), the server goes on', async (t) => {
  const h = await harness(t);
  const socket = connect(h.port, '127.0.0.1');
  socket.write(get('/v1/kv/after/200'));
  await pollUntil(() => h.lean.length === 1, 'the request reached its handler');
  socket.destroy();
  await pollUntil(() => h.closed.length === 1, 'the exchange saw close', 5000, 2);
  t.deepEqual(h.closed, ['/v1/kv/after/200']);
  const { text, socket: s2 } = await exchange(h.port, get('/v1/kv/c'), 1);
  s2.destroy();
  t.deepEqual(bodies(text), ['lean GET /v1/kv/c']);
});

test('a header that would split the head is refused before anything is sent', (t) => {
  const sink = { send: () => t.fail('nothing may be sent'), finished: () => undefined, bufferedBytes: 0, destroy: () => undefined };
  const ex = new H1Exchange(sink, 'GET', '/v1/kv/a', {}, Buffer.alloc(0), false);
  t.throws(() => ex.writeHead(200, ['x-a', 'b\r\nset-cookie: c']), { instanceOf: TypeError });
});
