/**
 * What the replay CLI writes and counts, however the stream was cut into chunks: only whole
 * lines or frames (a line split between two chunks passes once, as what it is), the progress
 * counts, and the resume token — the seq of the last event passed.
 */
import test from 'ava';
import { Progress } from '../../ts/cli/replay_progress';
import { OFFSET, RECORD_BYTES } from '../../ts/market/records';

const LINES = [
  '{"kind":"book","instrument":"A","seq":"1","tsEvent":"1700000000000000000","bids":[],"asks":[]}',
  '{"kind":"trade","instrument":"A","seq":"2","tsEvent":"1700000001000000000","price":"1","size":1,"side":"buy"}',
  '{"kind":"book","instrument":"A","seq":"2","tsEvent":"1700000001000000000","bids":[],"asks":[]}',
  '{"kind":"trade","instrument":"A","seq":"3","tsEvent":"1700000002000000000","price":"1","size":2,"side":"sell"}',
  '{"kind":"done","events":2,"snapshots":2,"seq":"3"}',
];

/** Feeds `bytes` in chunks of `size`; what passed, joined. */
function feed(progress: Progress, bytes: Buffer, size: number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(progress.take(bytes.subarray(at, at + size)));
  return Buffer.concat(out);
}

test('NDJSON: whole lines pass, counted exactly at every chunk size, down to one byte', (t) => {
  const bytes = Buffer.from(LINES.join('\n') + '\n');
  for (const size of [1, 2, 3, 7, 16, 100, bytes.length]) {
    const progress = new Progress({ speed: 'max', format: 'ndjson' });
    t.deepEqual(feed(progress, bytes, size), bytes, `chunks of ${size} bytes`);
    t.regex(progress.line(), /market 2023-11-14T22:13:22\.000Z {2}2 events .* snapshots\/s/, `chunks of ${size} bytes`);
    t.is(progress.snapshots, 2, `chunks of ${size} bytes`);
    t.is(progress.lastSeq, '3', 'the last event, not the done line');
    t.true(progress.finished);
  }
});

test('NDJSON: a broken session leaves no torn line; its resume token is its last whole event; the end line is not data', (t) => {
  const bytes = Buffer.from(LINES.join('\n') + '\n');
  const cut = bytes.indexOf('"seq":"3"'); // inside the second trade
  const progress = new Progress({ speed: 'max', format: 'ndjson' });
  const passed = feed(progress, bytes.subarray(0, cut), 5);
  t.is(passed.toString(), LINES.slice(0, 3).join('\n') + '\n');
  t.is(progress.lastSeq, '2', 'a book line is not an event');
  t.false(progress.finished);
  progress.reopened();
  // The resumed session opens with its book, then the rest; a failed one sends an end line.
  t.is(progress.take(Buffer.from(`${LINES[2]}\n${LINES[3]}\n`)).toString(), `${LINES[2]}\n${LINES[3]}\n`);
  t.is(progress.take(Buffer.from('{"kind":"end","reason":"internal"}\n')).length, 0);
  t.is(progress.lastSeq, '3');
  t.false(progress.finished);
});

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32LE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

function record(seq: bigint, tsEvent: bigint): Buffer {
  const r = Buffer.alloc(RECORD_BYTES);
  r.writeBigUInt64LE(seq, OFFSET.seq);
  r.writeBigUInt64LE(tsEvent, OFFSET.tsEvent);
  return r;
}

test('binary: whole frames pass; a resumed session\'s header is dropped when it is the same', (t) => {
  const header = frame(0, Buffer.from('{"instruments":{"1":"A"},"producers":{"0":"p"}}'));
  const first = Buffer.concat([header, frame(1, record(7n, 1700000000000000000n)), frame(2, Buffer.from('{"kind":"book"}')), frame(1, record(9n, 1700000001000000000n))]);
  const progress = new Progress({ speed: 'max', format: 'binary' });
  const cut = first.length - 10; // inside the second event
  t.deepEqual(feed(progress, first.subarray(0, cut), 3), first.subarray(0, first.length - (5 + RECORD_BYTES)));
  t.is(progress.lastSeq, '7');
  progress.reopened();
  const resumed = Buffer.concat([header, frame(1, record(9n, 1700000001000000000n)), frame(3, Buffer.from('{"kind":"done"}'))]);
  t.deepEqual(progress.take(resumed), resumed.subarray(header.length));
  t.is(progress.lastSeq, '9');
  t.is(progress.events, 2);
  t.is(progress.snapshots, 1);
  t.true(progress.finished);
});
