/**
 * Streaming ingest over one HTTP/2 request: lines split anywhere across chunks are cut into
 * batches, each acknowledged in order on the same stream once applied; a malformed line ends
 * the stream with its line number and nothing after it is applied.
 */
import { connect } from 'node:http2';
import test from 'ava';
import { parseNdjson, toFrame } from '../../ts/market/batch';
import { singleNode } from '../helpers/single_node';

const line = (i: number, extra: object = {}) => JSON.stringify({ kind: 'trade', instrument: i % 2 ? 'X' : 'Y', price: '1.5', size: 1 + i, side: 'buy', tsEvent: i, producerId: 's', producerSeq: i + 1, ...extra });

/** Streams `body` in uneven chunks over one HTTP/2 request; resolves with the answer's lines. */
function streamIngest(port: number, body: string | Buffer, type = 'application/x-ndjson'): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': '/v1/md/ingest', 'content-type': type });
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      session.close();
      resolve(text.trim().split('\n').map((l) => JSON.parse(l)));
    });
    req.on('error', reject);
    let at = 0;
    const sizes = [1, 700, 33, 4096, 12_345, 5];
    for (let i = 0; at < body.length; i++) {
      const n = sizes[i % sizes.length];
      req.write(body.slice(at, at + n));
      at += n;
    }
    req.end();
  });
}

test('a streamed body is cut into batches, each acknowledged in order once applied', async (t) => {
  const { port, url } = await singleNode(t);
  const count = 3500;
  const answers = await streamIngest(port, Array.from({ length: count }, (_, i) => line(i)).join('\n'));
  const done = answers.pop();
  t.deepEqual(done, { done: true, events: count });
  t.true(answers.length >= 4, `${answers.length} batches`);
  t.is(answers.reduce((n, a) => n + a.applied, 0), count);
  t.true(answers.every((a, i) => i === 0 || BigInt(a.firstSeq) > BigInt(answers[i - 1].lastSeq)), 'acknowledged in seq order');
  const feeds = (await (await fetch(url('/v1/md/feeds'))).json()) as { producers: { producerSeq: string }[] };
  t.is(feeds.producers[0].producerSeq, String(count));
});

test('a malformed line ends the stream with its line; nothing after it is applied', async (t) => {
  const { port, url } = await singleNode(t);
  const lines = Array.from({ length: 2500 }, (_, i) => line(i));
  lines[1800] = '{"kind":"trade","instrument":"X","price":"one"}';
  const answers = await streamIngest(port, lines.join('\n'));
  const last = answers.pop();
  t.is(last.error.code, 'invalid_event');
  t.is(last.error.line, 1801);
  const applied = answers.reduce((n, a) => n + a.applied, 0);
  t.true(applied <= 1800);
  const feeds = (await (await fetch(url('/v1/md/feeds'))).json()) as { producers: { producerSeq: string }[] };
  t.is(feeds.producers[0].producerSeq, String(applied), 'only the acknowledged batches were applied');
});

test('lines arriving after a refused batch are dropped, not proposed (and do not stall the node)', async (t) => {
  const { port, url } = await singleNode(t);
  const lines = Array.from({ length: 3000 }, (_, i) => line(i));
  lines[4] = '{"kind":"trade","instrument":"X","price":"one"}';
  const answers = await streamIngest(port, lines.join('\n'));
  t.deepEqual(answers.map((a) => a.error?.line), [5]);
  t.deepEqual(((await (await fetch(url('/v1/md/feeds'))).json()) as { producers: unknown[] }).producers, []);
});

test('a binary stream: each frame is a batch, acknowledged in order; a bad frame is named', async (t) => {
  const { port, url } = await singleNode(t);
  const frames = [0, 1, 2].map((f) => toFrame(parseNdjson(Buffer.from(Array.from({ length: 700 }, (_, i) => line(f * 700 + i)).join('\n')), 0n)));
  const answers = await streamIngest(port, Buffer.concat(frames), 'application/octet-stream');
  t.deepEqual(answers.pop(), { done: true, events: 2100 });
  t.deepEqual(answers.map((a) => a.applied), [700, 700, 700]);
  const bad = Buffer.from(frames[1]);
  bad[bad.length - 96] = 9; // the last record's kind
  const refused = await streamIngest(port, Buffer.concat([frames[0], bad]), 'application/octet-stream');
  t.like(refused.pop().error, { code: 'invalid_event', frame: 2, line: 700 });
  const feeds = (await (await fetch(url('/v1/md/feeds'))).json()) as { producers: { producerSeq: string }[] };
  t.is(feeds.producers[0].producerSeq, '2100');
});
