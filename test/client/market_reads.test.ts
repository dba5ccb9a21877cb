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

test('book, top, vwap, ticks and feeds answer what the node does', async (t) => {
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
  const err = await t.throwsAsync(client.book('NQ'));
  t.true(err instanceof QuorumClientError && err.code === 'unknown_instrument', String(err));
});
