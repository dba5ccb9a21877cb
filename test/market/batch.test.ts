/** NDJSON event lines become market records exactly; bad lines fail the batch with their line. */
import test from 'ava';
import { parseNdjson } from '../../ts/market/batch';
import { F_LAST, formatPrice, OFFSET, parsePrice, RECORD_BYTES } from '../../ts/market/records';

const ndjson = (...events: object[]) => Buffer.from(events.map((e) => JSON.stringify(e)).join('\n'));
const base = { instrument: 'AAPL', tsEvent: '1700000000000000001', producerId: 'feed-1' };

test('prices are exact fixed-point decimals and print in their shortest form', (t) => {
  t.is(parsePrice('101.25', 'p'), 101_250_000_000n);
  t.is(parsePrice('-0.000000001', 'p'), -1n);
  t.is(formatPrice(101_250_000_000n), '101.25');
  t.is(formatPrice(parsePrice('7.10', 'p')), '7.1');
  for (const bad of ['1e3', '1.0000000001', '', '.5', 101.25]) t.throws(() => parsePrice(bad, 'price'), { code: 'invalid_event' } as never);
});

test('64-bit fields sent as JSON integers keep every digit', (t) => {
  const body = Buffer.from('{"kind":"trade","instrument":"AAPL","tsEvent":1700000000000000001,"producerId":"f","producerSeq":18446744073709551615,"price":"1","size":1}');
  const batch = parseNdjson(body, 5n);
  t.is(batch.records.readBigUInt64LE(OFFSET.tsEvent), 1700000000000000001n);
  t.is(batch.records.readBigUInt64LE(OFFSET.producerSeq), 18446744073709551615n);
  t.is(batch.records.readBigUInt64LE(OFFSET.tsRecv), 5n, 'tsRecv defaults to the time received');
});

test('deltas, trades and quotes fill their fields; symbols and producers are tabled', (t) => {
  const batch = parseNdjson(
    ndjson(
      { ...base, kind: 'delta', producerSeq: 1, action: 'add', side: 'bid', price: '101.25', size: 300, venueSeq: 9 },
      { ...base, kind: 'quote', producerSeq: 2, bidPrice: '101', bidSize: 1, askPrice: '102', askSize: 2, instrument: 'MSFT' },
      { ...base, kind: 'trade', producerSeq: 3, price: '101.5', size: 10, side: 'sell', producerId: 'feed-2' },
    ),
    0n,
  );
  t.is(batch.count, 3);
  t.deepEqual(batch.symbols, ['AAPL', 'MSFT']);
  t.deepEqual(batch.producers, ['feed-1', 'feed-2']);
  const r = (i: number) => batch.records.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES);
  t.deepEqual([r(0)[OFFSET.kind], r(0)[OFFSET.action], r(0)[OFFSET.side], r(0)[OFFSET.flags]], [1, 1, 1, F_LAST]);
  t.is(r(0).readBigInt64LE(OFFSET.price), 101_250_000_000n);
  t.is(r(0).readBigUInt64LE(OFFSET.venueSeq), 9n);
  t.is(r(1).readUInt32LE(OFFSET.instrument), 1);
  t.is(r(1).readBigInt64LE(OFFSET.askPrice), 102_000_000_000n);
  t.is(r(2).readUInt32LE(OFFSET.producer), 1);
  t.is(r(2)[OFFSET.side], 2);
});

test('a malformed line fails the batch, naming its line', (t) => {
  const cases: [object[], RegExp][] = [
    [[{ ...base, kind: 'delta', producerSeq: 1, action: 'add', side: 'bid', price: 101.25, size: 1 }], /event 1: "price"/],
    [[{ ...base, kind: 'trade', producerSeq: 1, price: '1', size: 1 }, { ...base, kind: 'nope', producerSeq: 2 }], /event 2: "kind"/],
    [[{ ...base, kind: 'delta', producerSeq: 1, action: 'add', side: 'bid', price: '1', size: 1, last: false }], /event 1: AAPL's last event in the batch has "last": false/],
    [[{ ...base, kind: 'trade', producerSeq: -1, price: '1', size: 1 }], /event 1: "producerSeq"/],
    [[{ ...base, instrument: '', kind: 'trade', producerSeq: 1, price: '1', size: 1 }], /event 1: "instrument"/],
  ];
  for (const [events, message] of cases) t.throws(() => parseNdjson(ndjson(...events), 0n), { code: 'invalid_event', message } as never);
  t.throws(() => parseNdjson(Buffer.from('{"kind":'), 0n), { code: 'invalid_event', message: /event 1: not JSON/ } as never);
  t.throws(() => parseNdjson(Buffer.from('\n\n'), 0n), { code: 'invalid_event' } as never);
});
