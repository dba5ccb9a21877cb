/**
 * The client's market-data reads against a real node (its own process, as users run it): a book now and as of a time or a seq, the
 * tops of several books, a fill price, stored events across pages, and the feeds — each equal to
 * what the HTTP API answers, stale reads included, and an unknown instrument a typed error.
 */
import test from 'ava';
import { QuorumClient, QuorumClientError } from '../../ts/client';
import { tempDir } from '../helpers/tmp';
import { ProcCluster } from '../cluster/procs';

const T0 = 1_700_000_000_000_000_000n;
const delta = (producerSeq: number, side: 'bid' | 'ask', price: string, size: number) => ({ kind: 'delta', instrument: 'ES', action: 'add', side, price, size, tsEvent: String(T0 + BigInt(producerSeq)), producerId: 'f', producerSeq });

test('book, top, vwap, ticks, bars and feeds answer what the node does', async (t) => {
  const [node] = (await ProcCluster.start(t, tempDir(t), 1)).procs;
  const url = (path: string) => node.url(path);
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const first = await client.ingest([delta(1, 'ask', '100.5', 3), delta(2, 'ask', '101', 5)]);
  await client.ingest([delta(3, 'bid', '99.75', 2), delta(4, 'ask', '100.25', 1), delta(5, 'bid', '99.5', 4)]);
  const http = async (path: string): Promise<unknown> => (await fetch(url(path))).json();
  t.deepEqual(await client.book('ES', { depth: 2 }), await http('/v1/md/books/ES?depth=2'));
  t.deepEqual(await client.book('ES', { seq: first.lastSeq! }), await http(`/v1/md/books/ES?depth=10&seq=${first.lastSeq}`));
  const then = await client.book('ES', { at: T0 + 2n, consistency: 'stale' });
  t.deepEqual(then, await http(`/v1/md/books/ES?at=${T0 + 2n}`));
  t.deepEqual(then.asks.map((l) => [l.price, l.size]), [['100.5', 3], ['101', 5]], 'as of the second event');
  t.deepEqual(await client.top(['ES', 'NQ']), await (await fetch(url('/v1/md/books/top'), { method: 'POST', body: '{"instruments":["ES","NQ"]}' })).json());
  t.like(await client.vwap('ES', 'buy', 4n), { filled: 4, complete: true, avgPrice: '100.4375', worstPrice: '100.5', levels: 2 });
  const events = [];
  for await (const e of client.ticks('ES', { pageSize: 2 })) events.push(e);
  t.deepEqual(events.map((e) => e.producerSeq), ['1', '2', '3', '4', '5'], 'every stored event once, across three pages');
  const after = [];
  for await (const e of client.ticks('ES', { afterSeq: events[2].seq, consistency: 'stale' })) after.push(e.producerSeq);
  t.deepEqual(after, ['4', '5']);
  t.like((await client.feeds()).producers, [{ producerId: 'f', producerSeq: '5', firstSeq: events[0].seq, lastSeq: events[4].seq }]);
  // Trades in three seconds: bars a page of one at a time, as the node answers them in one.
  const trade = (producerSeq: number, second: bigint, price: string) => ({ kind: 'trade', instrument: 'ES', price, size: 2, side: 'buy', tsEvent: String(T0 + second * 1_000_000_000n + 7n), producerId: 'f', producerSeq });
  await client.ingest([trade(6, 1n, '100'), trade(7, 1n, '102'), trade(8, 2n, '101'), trade(9, 4n, '99')]);
  const bars = [];
  for await (const bar of client.bars('ES', { interval: '1s', pageSize: 1, consistency: 'stale' })) bars.push(bar);
  t.deepEqual(bars, ((await http('/v1/md/bars/ES?interval=1s')) as { bars: unknown[] }).bars);
  t.deepEqual(bars.map((b) => [b.open, b.high, b.close, b.trades]), [['100', '102', '102', 2], ['101', '101', '101', 1], ['99', '99', '99', 1]]);
  const [es] = await client.barsOfMany(['ES'], { interval: '1s', from: T0 + 2_000_000_000n, pageSize: 1 });
  t.deepEqual(es, { instrument: 'ES', bars: [bars[1]], more: true, next: String(T0 + 4_000_000_000n) }, 'several instruments in one read: a page each');
  const trades = [];
  for await (const e of client.ticks('ES', { kinds: ['trade'], from: T0 + 2_000_000_000n })) trades.push(e.producerSeq);
  t.deepEqual(trades, ['8', '9'], 'ticks of one kind from a venue time');
  await client.ingest([{ kind: 'quote', instrument: 'ES', bidPrice: '99', bidSize: 1, askPrice: '100', askSize: 2, tsEvent: String(T0 + 7_000_000_000n), producerId: 'f', producerSeq: 10 }]);
  const mids = [];
  for await (const bar of client.bars('ES', { interval: '1s', source: 'mid' })) mids.push(bar);
  t.deepEqual(mids, [{ start: String(T0 + 7_000_000_000n), open: '99.5', high: '99.5', low: '99.5', close: '99.5', quotes: 1 }]);
  const late = [];
  for await (const bar of client.bars('ES', { interval: '1s', from: T0 + 2_000_000_000n, to: T0 + 4_000_000_000n })) late.push(bar.close);
  t.deepEqual(late, ['101'], 'from inclusive, to exclusive');
  const err = await t.throwsAsync(client.book('NQ'));
  t.true(err instanceof QuorumClientError && err.code === 'unknown_instrument', String(err));
});
