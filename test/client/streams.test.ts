/**
 * The client's streams against real 3-node clusters: a watch and a market stream each survive
 * kill -9 of every node in turn (every change arrives once, in order), market data is ingested
 * exactly once through retries and read back as a book, and a replay ends with its done line.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import type { MarketLine } from '../../ts/client/streams';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';

/** Kills each node in turn with SIGKILL while `busy` runs, restarting it before the next. */
async function killEachInTurn(cluster: ProcCluster, progressed: () => number, failed: () => unknown = () => undefined): Promise<void> {
  for (const p of cluster.procs) {
    if (failed()) throw failed();
    const before = progressed();
    p.child.kill('SIGKILL');
    await p.exited;
    await cluster.leader();
    // The stream must carry on while the node is down (it reconnected elsewhere).
    await pollUntil(() => progressed() > before + 5 || failed() !== undefined, `the stream to move on after n${p.id} died`);
    if (failed()) throw failed();
    p.spawn();
    await p.until((e) => e.event === 'ready');
  }
}

const delta = (seq: number) => ({ kind: 'delta', instrument: 'AAPL', tsEvent: String(1_700_000_000_000_000_000n + BigInt(seq) * 1000n), producerId: 'feed-1', producerSeq: seq, action: 'add', side: seq % 2 === 0 ? 'bid' : 'ask', price: seq % 2 === 0 ? `100.${seq % 50}` : `101.${seq % 50}`, size: seq, last: true });

test('a watch survives kill -9 of every node in turn: every put arrives once, in revision order', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const client = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')), timeoutMs: 30_000 });
  t.teardown(() => client.close());
  const seen: { key: string; revision: number }[] = [];
  let stop = false;
  let written = 0;
  const watching = (async () => {
    for await (const ev of client.watch('w/')) {
      seen.push({ key: ev.key, revision: ev.revision });
      if (ev.key === 'w/end') break; // (written after the last write, so after every one of them)
    }
  })();
  const writing = (async () => {
    for (; !stop; written++) await client.put(`w/${written}`, written);
  })();
  await pollUntil(() => seen.length > 10, 'the first changes');
  await killEachInTurn(cluster, () => seen.length);
  stop = true;
  await writing;
  await client.put('w/end', 'end'); // wakes the watcher if it already has every write
  await watching;
  const keys = seen.map((s) => s.key).filter((k) => k !== 'w/end');
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  t.log(`written ${written}, seen ${keys.length}; repeated ${[...counts].filter(([, n]) => n > 1).map(([k]) => k).slice(0, 10).join(' ')}; missing ${Array.from({ length: written }, (_, i) => `w/${i}`).filter((k) => !counts.has(k)).slice(0, 10).join(' ')}`);
  t.deepEqual(keys, Array.from({ length: written }, (_, i) => `w/${i}`), 'each write once, in order');
  t.true(seen.every((s, i) => i === 0 || s.revision > seen[i - 1].revision));
});

test('market data: ingest is exactly once through retries, books read back, a live stream survives every node dying, a replay ends done', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const client = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')), timeoutMs: 30_000 });
  t.teardown(() => client.close());
  const first = await client.ingest(Array.from({ length: 10 }, (_, i) => delta(i + 1)));
  t.like(first, { applied: 10, duplicates: 0 });
  t.like(await client.ingest(Array.from({ length: 10 }, (_, i) => delta(i + 1))), { applied: 0, duplicates: 10 }, 'a retried batch applies nothing');
  const book = (await client.book('AAPL', { depth: 3 })) as { bids: { price: string }[]; asks: unknown[] };
  t.is(book.bids.length, 3);
  t.is(book.bids[0].price, '100.8'); // the highest bid (100.10 of seq 10 is 100.1, in its shortest form)

  const events: MarketLine[] = [];
  let books = 0;
  const reading = new AbortController();
  let streamFailure: Error | undefined;
  const streaming = (async () => {
    for await (const line of client.marketStream({ instruments: ['AAPL'], signal: reading.signal })) {
      if (line.kind === 'book') books++;
      else events.push(line);
    }
  })().catch((err: Error) => (streamFailure = err));
  await pollUntil(() => books > 0 || streamFailure !== undefined, 'the opening book');
  if (streamFailure) throw streamFailure;
  let next = 11;
  let stop = false;
  const feeding = (async () => {
    for (; !stop; next++) await client.ingest([delta(next)]);
  })();
  await killEachInTurn(cluster, () => events.length, () => (reading.signal.aborted ? undefined : streamFailure));
  stop = true;
  await feeding;
  const last = next - 1;
  await pollUntil(() => events.some((e) => Number(e.producerSeq) === last), 'the last event');
  reading.abort();
  t.like(await streaming, { code: 'aborted' });
  const producerSeqs = events.map((e) => Number(e.producerSeq));
  t.deepEqual(producerSeqs, Array.from({ length: last - 10 }, (_, i) => i + 11), 'each live event once, in order');
  t.true(events.every((e, i) => i === 0 || BigInt(e.seq) > BigInt(events[i - 1].seq)));

  const lines: MarketLine[] = [];
  for await (const line of client.replay({ instruments: ['AAPL'], kinds: ['delta'], speed: 'max' })) lines.push(line);
  const done = lines[lines.length - 1] as MarketLine & { events: number };
  t.is(done.kind, 'done');
  t.is(done.events, last, 'every stored event replayed');
  t.is(lines.filter((l) => l.kind === 'delta').length, last);

  // Nanosecond times and seqs are past 2^53: bigints go as exact decimal strings.
  const tsOf = (producerSeq: number) => BigInt(delta(producerSeq).tsEvent);
  const range: MarketLine[] = [];
  for await (const line of client.replay({ instruments: ['AAPL'], kinds: ['delta'], speed: 'max', from: tsOf(5), to: tsOf(8) })) range.push(line);
  t.deepEqual(range.filter((l) => l.kind === 'delta').map((l) => Number(l.producerSeq)), [5, 6, 7], 'from and to as bigints');
  const after: MarketLine[] = [];
  for await (const line of client.replay({ instruments: ['AAPL'], kinds: ['delta'], speed: 'max', fromSeq: BigInt(range[0].seq) })) after.push(line);
  t.is(after.filter((l) => l.kind === 'delta').length, last - 5, 'fromSeq as a bigint: the events after it');
});

test('over HTTP/1.1 too: a watch from a revision gets the changes since, and its signal ends it', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const client = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')), protocol: 'h1' });
  t.teardown(() => client.close());
  const { revision } = await client.put('h/a', 1);
  await client.put('h/b', 2);
  await client.delete('h/a');
  const stop = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const ev of client.watch('h/', { fromRevision: revision, signal: stop.signal })) {
      seen.push(`${ev.type} ${ev.key}`);
      if (seen.length === 4) stop.abort();
    }
  })().catch((err: Error & { code?: string }) => err.code);
  await pollUntil(() => seen.length === 3, 'the retained changes');
  await client.put('h/c', 3);
  t.is(await watching, 'aborted');
  t.deepEqual(seen, ['put h/a', 'put h/b', 'delete h/a', 'put h/c']);
});
