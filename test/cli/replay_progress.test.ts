/**
 * The replay CLI's progress line counts what passed through it, however the stream was cut
 * into chunks (a line split between two chunks must count once, as what it is).
 */
import test from 'ava';
import { Progress } from '../../ts/cli/replay';

const LINES = [
  '{"kind":"book","instrument":"A","seq":"1","tsEvent":"1700000000000000000","bids":[{"price":"1","size":1,"orders":1}],"asks":[]}',
  '{"kind":"trade","instrument":"A","seq":"2","tsEvent":"1700000001000000000","price":"1","size":1,"side":"buy"}',
  '{"kind":"book","instrument":"A","seq":"2","tsEvent":"1700000001000000000","bids":[],"asks":[]}',
  '{"kind":"trade","instrument":"A","seq":"3","tsEvent":"1700000002000000000","price":"1","size":2,"side":"sell"}',
  '{"kind":"done","events":2,"snapshots":2,"seq":"3"}',
];

test('NDJSON counts are exact at every chunk size, down to one byte', (t) => {
  const bytes = Buffer.from(LINES.join('\n') + '\n');
  for (const size of [1, 2, 3, 7, 16, 100, bytes.length]) {
    const progress = new Progress({ endpoint: [], instruments: ['A'], speed: 'max', depth: 10, format: 'ndjson' });
    for (let at = 0; at < bytes.length; at += size) progress.see(bytes.subarray(at, at + size));
    t.regex(progress.line(), /market 2023-11-14T22:13:22\.000Z {2}2 events .* snapshots\/s/, `chunks of ${size} bytes`);
    t.is(progress.snapshots, 2, `chunks of ${size} bytes`);
  }
});
