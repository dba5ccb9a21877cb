/**
 * Exactly-once ingestion under failover, with real processes: a producer retries batches
 * (same producerSeqs) against random nodes while the leader is killed with -9 and restarted.
 * Every event is stored exactly once, in order, and every node's book equals a reference book
 * computed from the input.
 */
import test from 'ava';
import { ReferenceBook, type RefEvent } from '../helpers/reference_book';
import { seededRandom } from '../helpers/random';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const EVENTS = 3000;
const BATCH = 100;

function events(): (RefEvent & Record<string, unknown>)[] {
  const random = seededRandom(42);
  return Array.from({ length: EVENTS }, (_, i) => {
    const side = random() < 0.5 ? 'bid' : 'ask';
    const ticks = Math.floor(random() * 30);
    const price = side === 'bid' ? (200 - ticks * 0.01).toFixed(2) : (200.01 + ticks * 0.01).toFixed(2);
    const action = random() < 0.8 ? 'add' : 'cancel';
    return { kind: 'delta', instrument: i % 2 ? 'AAPL' : 'NVDA', action, side, price, size: action === 'cancel' ? 0 : 1 + Math.floor(random() * 900), orders: 1, tsEvent: String(1_700_000_000_000_000_000n + BigInt(i)), producerId: 'feed-a', producerSeq: i + 1 };
  });
}

async function send(p: Proc, batch: object[]): Promise<{ status: number; json: any } | undefined> {
  try {
    const res = await fetch(p.url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: batch.map((e) => JSON.stringify(e)).join('\n'), signal: AbortSignal.timeout(8000) });
    return { status: res.status, json: await res.json() };
  } catch {
    return undefined; // refused or dropped: the outcome is unknown, so the batch is retried
  }
}

/** Sends the batch until some node acknowledges it (retrying the same producerSeqs). */
async function deliver(cluster: ProcCluster, batch: object[], attempt: () => number): Promise<void> {
  for (let tries = 0; tries < 400; tries++) {
    const live = cluster.alive();
    const r = await send(live[attempt() % live.length], batch);
    if (r?.status === 200) return;
    if (r && r.status !== 503 && r.status !== 504) throw new Error(`ingest answered ${r.status} ${JSON.stringify(r.json)}`);
    await new Promise((resolve) => setTimeout(resolve, 25)); // retry backoff
  }
  throw new Error('a batch was never acknowledged');
}

test('a producer retrying through a leader kill -9 stores every event exactly once; every node holds the reference book', async (t) => {
  t.timeout(150_000);
  const cluster = await ProcCluster.start(t, tempDir(t));
  const all = events();
  let n = 0;
  let killed: Proc | undefined;
  for (let i = 0; i < all.length; i += BATCH) {
    const leader = i === 10 * BATCH ? await cluster.leader() : undefined;
    const delivered = deliver(cluster, all.slice(i, i + BATCH), () => n++);
    if (leader) {
      // Killed while this batch is in flight: it may commit with its answer lost, and is retried.
      killed = leader;
      killed.child.kill('SIGKILL');
      await killed.exited;
    }
    if (i === 20 * BATCH && killed) killed.spawn();
    await delivered;
  }
  await cluster.leader();
  const reference = new Map<string, ReferenceBook>();
  for (const e of all) {
    if (!reference.has(e.instrument)) reference.set(e.instrument, new ReferenceBook());
    reference.get(e.instrument)!.apply(e);
  }
  for (const p of cluster.alive()) {
    const stored: number[] = [];
    for (const symbol of reference.keys()) {
      let after = '0';
      for (;;) {
        const page = (await (await fetch(p.url(`/v1/md/ticks/${symbol}?limit=10000&afterSeq=${after}`))).json()) as { events: { producerSeq: string; seq: string }[]; more: boolean };
        stored.push(...page.events.map((e) => Number(e.producerSeq)));
        if (!page.more) break;
        after = page.events[page.events.length - 1].seq;
      }
      const book = (await (await fetch(p.url(`/v1/md/books/${symbol}?depth=100`))).json()) as { bids: unknown; asks: unknown };
      t.deepEqual({ bids: book.bids, asks: book.asks }, reference.get(symbol)!.levels(100), `n${p.id} ${symbol}`);
    }
    t.deepEqual(stored.sort((a, b) => a - b), Array.from({ length: EVENTS }, (_, i) => i + 1), `n${p.id} stores every event exactly once`);
  }
});
