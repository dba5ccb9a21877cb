/**
 * `DELETE /v1/md/history?before=T`: each instrument's events and checkpoints before its newest
 * checkpoint before T go; everything at or after T stays, and so do the books: a book as of a
 * kept time, a replay from before the cut and the live book are what they were. A book before
 * the cut or a stream from a purged seq is 410 `compacted`. The cut survives a restart. With
 * `mdRetentionNs` the leader purges on its own.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET } from '../../ts/market/records';
import { CHECKPOINT_EVERY_EVENTS, checkpointsPrefix } from '../../ts/market/state';
import { purgedGap } from '../../ts/market/purge';
import { RaftNode } from '../../ts/node/raft_node';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';
import { events, ingest, T0 } from './purge_events';

test('a purge drops history before a time, keeps every book and event from it on, across a restart', async (t) => {
  t.timeout(120_000);
  const { url, node } = await singleNode(t);
  const input = events(4 * CHECKPOINT_EVERY_EVENTS);
  await ingest(t, url, input);
  const get = async (path: string) => {
    const res = await fetch(url(path));
    return { status: res.status, json: (await res.json()) as any };
  };
  const allTicks = async () => {
    const out: { seq: string; tsEvent: string }[] = [];
    for (let more = true; more; ) {
      const page = (await get(`/v1/md/ticks/AAPL?limit=10000&afterSeq=${out.at(-1)?.seq ?? 0}`)).json as { events: { seq: string; tsEvent: string }[]; more: boolean };
      out.push(...page.events);
      more = page.more;
    }
    return out;
  };
  const ticksBefore = await allTicks();
  const cut = T0 + BigInt(Math.floor(input.length * 0.6)) * 1_000_000n;
  const lateTimes = [cut, cut + 777_000_000n, T0 + BigInt(input.length - 1) * 1_000_000n];
  const booksBefore = await Promise.all(lateTimes.map(async (at) => (await get(`/v1/md/books/AAPL?depth=20&at=${at}`)).json));
  const live = (await get('/v1/md/books/AAPL?depth=20')).json;

  const purge = await fetch(url(`/v1/md/history?before=${cut}`), { method: 'DELETE' });
  t.is(purge.status, 200);
  const { instruments } = (await purge.json()) as { instruments: { instrument: string; fromSeq: string; fromTs: string }[] };
  // MSFT (a quarter of the events) has its first checkpoint after the cut: nothing of it can go.
  t.deepEqual(instruments.map((i) => i.instrument), ['AAPL']);
  const aapl = instruments.find((i) => i.instrument === 'AAPL')!;
  t.true(BigInt(aapl.fromTs) < cut);

  // The events after the kept base, all of them; none at or after the cut is lost.
  const ticksAfter = await allTicks();
  t.deepEqual(ticksAfter, ticksBefore.filter((e) => BigInt(e.seq) > BigInt(aapl.fromSeq)));
  t.true(ticksAfter.length < ticksBefore.length);
  t.true(ticksBefore.filter((e) => BigInt(e.tsEvent) >= cut).every((e) => ticksAfter.some((a) => a.seq === e.seq)));
  for (const [i, at] of lateTimes.entries()) t.deepEqual((await get(`/v1/md/books/AAPL?depth=20&at=${at}`)).json, booksBefore[i], `the book as of ${at}`);
  const early = await get(`/v1/md/books/AAPL?at=${T0 + 5_000_000n}`);
  t.is(early.status, 410);
  t.is(early.json.error.code, 'compacted');
  t.is((await get(`/v1/md/books/AAPL?seq=${ticksBefore[0].seq}`)).status, 410);
  t.is((await get(`/v1/md/stream?instruments=AAPL&fromSeq=${ticksBefore[10].seq}`)).status, 410);

  // A replay from before the cut starts at the kept base's book: its last book is the live one.
  const replay = await fetch(url('/v1/md/replay'), { method: 'POST', body: JSON.stringify({ instruments: ['AAPL'], kinds: ['delta', 'book'], depth: 20 }) });
  const lines = (await replay.text()).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; seq?: string; bids?: unknown; asks?: unknown });
  const deltas = lines.filter((l) => l.kind === 'delta');
  t.true(BigInt(deltas[0].seq!) > BigInt(aapl.fromSeq), 'the replay starts after the base');
  const firstBook = lines.find((l, i) => l.kind === 'book' && i > lines.indexOf(deltas[0]))!;
  const then = (await get(`/v1/md/books/AAPL?depth=20&seq=${deltas[0].seq}`)).json;
  t.deepEqual({ bids: firstBook.bids, asks: firstBook.asks }, { bids: then.bids, asks: then.asks }, 'the book after the first kept event');
  const lastBook = lines.filter((l) => l.kind === 'book').at(-1)!;
  t.deepEqual({ bids: lastBook.bids, asks: lastBook.asks }, { bids: live.bids, asks: live.asks });

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  t.deepEqual(await client.purgeHistory(cut), { instruments: [] }, 'a repeat cuts nothing more');
  t.is((await fetch(url('/v1/md/history'), { method: 'DELETE' })).status, 400);
  // A later cut moves the start on, from where the kept history starts.
  const [later] = (await client.purgeHistory(lateTimes[2])).instruments.filter((i) => i.instrument === 'AAPL');
  t.true(BigInt(later.fromSeq) > BigInt(aapl.fromSeq));
  t.deepEqual(await allTicks(), ticksBefore.filter((e) => BigInt(e.seq) > BigInt(later.fromSeq)));
  t.deepEqual((await get('/v1/md/books/AAPL?depth=20')).json, live);

  // After a restart the cut is still known.
  const dataDir = (node as unknown as { cfg: { dataDir: string } }).cfg.dataDir;
  const members = (node as unknown as { cfg: { members: Map<number, { host: string; port: number }> } }).cfg.members;
  await node.close();
  const reopened = await RaftNode.open({ id: 1, dataDir, members });
  t.teardown(() => reopened.close());
  t.deepEqual(reopened.market.keptFrom(reopened.market.idOf('AAPL')!), { seq: BigInt(later.fromSeq), tsEvent: BigInt(later.fromTs) });
  t.is(reopened.market.bookView('AAPL', 20), JSON.stringify(live));
});

test('with a retention, the leader purges on its own what is older than the newest venue time less it', async (t) => {
  t.timeout(60_000);
  // 20,000 events 1 ms apart (20 s of venue time); keep 5 s of it.
  const { url, node } = await singleNode(t, { mdRetentionNs: 5_000_000_000n });
  const input = events(4 * CHECKPOINT_EVERY_EVENTS);
  await ingest(t, url, input, 1000);
  const newest = BigInt(input.at(-1)!.tsEvent as string);
  const id = node.market.idOf('AAPL')!;
  // Once a second the leader looks; the cut moves on as data arrives, so poll for the last one:
  // of the checkpoints left, the only one before newest − 5 s is the kept base.
  const cut = newest - 5_000_000_000n;
  const leftBeforeCut = async () => {
    const page = await node.keys.scan({ prefix: checkpointsPrefix(id), limit: 1000 });
    return page.items.map((i) => ({ seq: i.value.readBigUInt64LE(BOOK_SEQ_OFFSET), ts: i.value.readBigUInt64LE(BOOK_TS_OFFSET) })).filter((c) => c.ts < cut);
  };
  await pollUntil(async () => {
    const kept = node.market.keptFrom(id);
    const left = await leftBeforeCut();
    return kept !== undefined && left.length === 1 && left[0].seq === kept.seq;
  }, 'the leader to purge up to newest - 5 s', 20_000, 50);
  const kept = node.market.keptFrom(id)!;
  const first = ((await (await fetch(url('/v1/md/ticks/AAPL?limit=1'))).json()) as { events: { seq: string; tsEvent: string }[] }).events[0];
  t.true(BigInt(first.seq) > kept.seq, 'the history starts after the kept base');
  t.true(BigInt(first.tsEvent) < newest - 5_000_000_000n, 'and every event of the last 5 s is there');
});

test('purgedGap: a read missed dropped records only when the kept start lies past it and the read began after it', (t) => {
  t.false(purgedGap(undefined, 5n, 9n), 'never purged');
  t.false(purgedGap(100n, 100n, 150n), 'read up to the kept start already');
  t.false(purgedGap(100n, 40n, 41n), 'the read did not see the purge: it starts before the kept start');
  t.false(purgedGap(100n, 40n, 100n), '... or at it');
  t.true(purgedGap(100n, 40n, 101n), 'the read starts past the kept start: 41..100 are gone');
  t.true(purgedGap(100n, 40n, undefined), 'the read found nothing, and the kept start is past it');
});

test('a ticks page chain and a replay session that a purge overtakes end compacted, never skipping what it dropped', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const input = events(12 * CHECKPOINT_EVERY_EVENTS);
  await ingest(t, url, input);
  const firstPage = (await (await fetch(url('/v1/md/ticks/AAPL?limit=100'))).json()) as { events: { seq: string }[] };
  const allSeqs: string[] = [];
  for (let more = true; more; ) {
    const page = (await (await fetch(url(`/v1/md/ticks/AAPL?limit=10000&afterSeq=${allSeqs.at(-1) ?? 0}`))).json()) as { events: { seq: string }[]; more: boolean };
    allSeqs.push(...page.events.map((e) => e.seq));
    more = page.more;
  }
  // A paced session (venue events 1 ms apart, at 10×: 6 s): it has read only its first MiBs of blocks when the purge comes.
  const replay = await fetch(url('/v1/md/replay'), { method: 'POST', body: JSON.stringify({ instruments: ['AAPL'], kinds: ['delta', 'trade'], speed: 10 }) });
  const reader = replay.body!.getReader();
  let text = '';
  while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
  const cut = T0 + BigInt(Math.floor(input.length * 0.6)) * 1_000_000n;
  const purge = (await (await fetch(url(`/v1/md/history?before=${cut}`), { method: 'DELETE' })).json()) as { instruments: { fromSeq: string }[] };
  const kept = purge.instruments[0].fromSeq;
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
  const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; seq?: string; reason?: string });
  t.deepEqual(lines.at(-1), { kind: 'end', reason: 'compacted' });
  const sent = lines.slice(0, -1).map((l) => l.seq);
  t.true(sent.length > 0 && BigInt(sent.at(-1)!) < BigInt(kept), 'it ended before the kept start');
  t.deepEqual(sent, allSeqs.slice(0, sent.length), 'what it sent has no gap');

  const next = await fetch(url(`/v1/md/ticks/AAPL?limit=100&afterSeq=${firstPage.events.at(-1)!.seq}`));
  t.is(next.status, 410);
  t.like(((await next.json()) as { error: unknown }).error, { code: 'compacted', fromSeq: kept });
  const fresh = (await (await fetch(url('/v1/md/ticks/AAPL?limit=1'))).json()) as { events: { seq: string }[] };
  t.true(BigInt(fresh.events[0].seq) > BigInt(kept), 'a first page starts at the kept history');
  t.is((await fetch(url(`/v1/md/ticks/AAPL?limit=1&afterSeq=${kept}`))).status, 200, 'a page from the kept start is whole');
});
