/**
 * A stream resumed from far back: its catch-up is read and sent a chunk at a time, paced by the
 * reader, while live data keeps arriving. Every event comes once, in seq order, with no gap at
 * the switch to live — also when the live batches held meanwhile overflow their bound and are
 * read from storage instead, and when one instrument holds more events than a single read could
 * (reading it whole first failed past about 120,000).
 */
import test from 'ava';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';
import { openStream } from '../helpers/stream_reader';

const STORED = 160_000;
const LIVE = 20_000;

/** Deltas of A (80%: 128,000 of the stored ones), B and C on a few levels a side. */
function deltas(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const instrument = i % 10 === 3 ? 'B' : i % 10 === 7 ? 'C' : 'A';
    const side = i % 2 ? 'bid' : 'ask';
    const price = (side === 'bid' ? 100 - (i % 5) * 0.25 : 100.25 + (i % 5) * 0.25).toFixed(2);
    return JSON.stringify({ kind: 'delta', instrument, action: 'add', side, price, size: 1 + (i % 97), orders: 1, tsEvent: String(1_700_000_000_000_000_000n + BigInt(i) * 1000n), producerId: 'p', producerSeq: i + 1 });
  });
}

test('a catch-up of 160,000 stored events, with live ones overflowing what it holds meanwhile, sends each once in order', async (t) => {
  t.timeout(300_000);
  const { url, node } = await singleNode(t);
  const ingest = async (from: number, count: number) => {
    for (let i = from; i < from + count; i += 5000) {
      const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: deltas(i, Math.min(5000, from + count - i)).join('\n') });
      t.is(res.status, 200, await res.text());
    }
  };
  await ingest(0, STORED);
  // Held live batches overflow after about 340 records: the rounds that read them from storage run.
  const stream = node.market.stream;
  stream.catchUpLiveBytesMax = 32 << 10;
  let rounds = 0;
  const hold = stream.hold.bind(stream);
  stream.hold = (sub) => {
    rounds++;
    return hold(sub);
  };

  const s = await openStream(url('/v1/md/stream?instruments=A,B,C&kinds=delta&fromSeq=0'));
  t.teardown(s.close);
  s.res.pause();
  // The catch-up cannot be done: its first MiBs wait for this reader, which reads nothing yet.
  await ingest(STORED, LIVE);
  s.res.resume();
  const seqs: bigint[] = [];
  const counts = new Map<string, number>();
  for (let n = 0; n < STORED + LIVE; n++) {
    const line = (await s.next()) as { kind: string; seq: string; instrument: string; producerSeq: string };
    t.is(line.kind, 'delta', JSON.stringify(line));
    if (line.kind !== 'delta') return;
    seqs.push(BigInt(line.seq));
    counts.set(line.instrument, (counts.get(line.instrument) ?? 0) + 1);
  }
  t.true(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'seq order, none twice');
  t.deepEqual(Object.fromEntries(counts), { A: (STORED + LIVE) * 0.8, B: (STORED + LIVE) * 0.1, C: (STORED + LIVE) * 0.1 });
  t.true(rounds >= 2, `the held live batches overflowed (${rounds} rounds)`);

  // Live from here on.
  await ingest(STORED + LIVE, 10);
  const live = [];
  for (let n = 0; n < 10; n++) live.push((await s.next()) as { seq: string });
  t.true(BigInt(live[0].seq) > seqs.at(-1)!);
});

test('a catch-up of 40 instruments from the middle merges their stored events in seq order, as their ticks hold them', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const random = seededRandom(11);
  const symbols = Array.from({ length: 40 }, (_, i) => `S${i}`);
  // Uneven shares, so some instruments run out long before others.
  const pick = () => symbols[Math.floor(symbols.length * random() ** 2)];
  for (let batch = 0; batch < 20; batch++) {
    const lines = Array.from({ length: 1 + Math.floor(random() * 2000) }, (_, k) => JSON.stringify({ kind: 'trade', instrument: pick(), price: '1.5', size: 1 + k, side: 'buy', tsEvent: String(batch * 10_000 + k + 1), producerId: 'p', producerSeq: batch * 10_000 + k + 1 }));
    t.is((await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') })).status, 200);
  }
  const stored: bigint[] = [];
  for (const symbol of symbols) {
    const page = (await (await fetch(url(`/v1/md/ticks/${symbol}?limit=10000`))).json()) as { events: { seq: string }[]; more: boolean };
    t.false(page.more);
    stored.push(...page.events.map((e) => BigInt(e.seq)));
  }
  stored.sort((a, b) => (a < b ? -1 : 1));
  const from = stored[Math.floor(stored.length / 3)];
  const expected = stored.filter((seq) => seq > from);
  const s = await openStream(url(`/v1/md/stream?instruments=${symbols.join(',')}&kinds=trade&fromSeq=${from}`));
  t.teardown(s.close);
  const got: bigint[] = [];
  while (got.length < expected.length) got.push(BigInt(((await s.next()) as { seq: string }).seq));
  t.deepEqual(got, expected);
});
