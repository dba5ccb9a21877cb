/**
 * Books in the past: the book as of a seq or a venue time, rebuilt from the nearest checkpoint
 * and the stored events after it, equals a reference book built from the input up to then.
 */
import test from 'ava';
import { CHECKPOINT_EVERY_EVENTS } from '../../ts/market/state';
import { ReferenceBook } from '../helpers/reference_book';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';

test('GET /v1/md/books/{instrument}?seq= and ?at= rebuild past books across checkpoints', async (t) => {
  t.timeout(60_000);
  const { url, node } = await singleNode(t);
  const random = seededRandom(11);
  const count = 2 * CHECKPOINT_EVERY_EVENTS + 1500;
  const events = Array.from({ length: count }, (_, i) => {
    const side = random() < 0.5 ? 'bid' : 'ask';
    const ticks = Math.floor(random() * 40);
    const cancel = random() < 0.3;
    return { kind: 'delta', instrument: 'H', action: cancel ? 'cancel' : 'add', side, price: (side === 'bid' ? 50 - ticks * 0.05 : 50.05 + ticks * 0.05).toFixed(2), size: cancel ? 0 : 1 + Math.floor(random() * 99), orders: 1, tsEvent: String(1_700_000_000_000_000_000n + BigInt(i) * 1000n), producerId: 'h', producerSeq: i + 1 };
  });
  for (let i = 0; i < count; i += 1000) {
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.slice(i, i + 1000).map((e) => JSON.stringify(e)).join('\n') });
    t.is(res.status, 200);
  }
  // Two checkpoints were stored (after 5,000 and 10,000 events): the reads below start from them.
  const checkpoints = await node.engine.scan({ prefix: '\u0000md/c/', limit: 10 });
  t.is(checkpoints.items.length, 2);
  const seqs: string[] = [];
  for (let more = true; more; ) {
    const page = (await (await fetch(url(`/v1/md/ticks/H?limit=5000&afterSeq=${seqs[seqs.length - 1] ?? 0}`))).json()) as { events: { seq: string }[]; more: boolean };
    seqs.push(...page.events.map((e) => e.seq));
    more = page.more;
  }
  t.is(seqs.length, count);
  for (const upTo of [1, 777, CHECKPOINT_EVERY_EVENTS - 1, CHECKPOINT_EVERY_EVENTS, CHECKPOINT_EVERY_EVENTS + 3, 2 * CHECKPOINT_EVERY_EVENTS + 999, count]) {
    const reference = new ReferenceBook();
    for (const e of events.slice(0, upTo)) reference.apply(e);
    const bySeq = (await (await fetch(url(`/v1/md/books/H?depth=100&seq=${seqs[upTo - 1]}`))).json()) as { bids: unknown; asks: unknown; seq: string };
    t.deepEqual({ bids: bySeq.bids, asks: bySeq.asks }, reference.levels(100), `after ${upTo} events, by seq`);
    t.is(bySeq.seq, seqs[upTo - 1]);
    const byTime = (await (await fetch(url(`/v1/md/books/H?depth=100&at=${events[upTo - 1].tsEvent}`))).json()) as { bids: unknown; asks: unknown };
    t.deepEqual({ bids: byTime.bids, asks: byTime.asks }, reference.levels(100), `after ${upTo} events, by time`);
  }
  const iso = await fetch(url('/v1/md/books/H?at=2023-11-14T22:13:20Z'));
  t.is(iso.status, 200, 'an ISO-8601 time is accepted (1700000000 s: the first event)');
  t.is((await fetch(url('/v1/md/books/H?at=yesterday'))).status, 400);
  t.is((await fetch(url('/v1/md/books/H?at=1&seq=2'))).status, 400);
});
