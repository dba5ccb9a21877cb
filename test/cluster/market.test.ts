/**
 * Exactly-once ingestion under failover, with real processes: a producer retries batches
 * (same producerSeqs) against random nodes while the leader is killed with -9 and restarted.
 * Every event is stored exactly once, in order, and every node's book equals a reference book
 * computed from the input.
 */
import test, { type ExecutionContext } from 'ava';
import { Agent, get as httpGet, type IncomingMessage, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
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

/**
 * Sends `path` to `member` while it has not applied an ingest of `instrument` the others
 * committed: the request goes on a kept-alive connection opened before the member stopped, so
 * once it runs again it reads the request next to the entries it has still to apply.
 */
async function askWhileLagging(t: ExecutionContext, leader: Proc, member: Proc, instrument: string, path: string, body?: string): Promise<IncomingMessage> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const health = await new Promise<IncomingMessage>((resolve, reject) => httpGet(member.url('/v1/health'), { agent }, resolve).on('error', reject));
  health.resume();
  await once(health, 'end');
  member.child.kill('SIGSTOP');
  t.teardown(() => member.child.kill('SIGCONT'));
  const delta = { kind: 'delta', instrument, action: 'add', side: 'bid', price: '10.5', size: 3, tsEvent: 1, producerId: instrument, producerSeq: 1 };
  const ingest = await fetch(leader.url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify(delta) });
  t.is(ingest.status, 200, 'committed without the stopped member');
  const req = httpRequest(member.url(path), { agent, method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  req.end(body);
  await once(req, 'finish');
  member.child.kill('SIGCONT');
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  t.teardown(() => res.destroy());
  return res;
}

/** The stream's first line that is not a progress line. */
async function firstLine(res: IncomingMessage): Promise<Record<string, unknown>> {
  for await (const line of createInterface({ input: res })) {
    const doc = JSON.parse(line) as Record<string, unknown>;
    if (doc.type !== 'progress') return doc;
  }
  throw new Error('the stream ended without a line');
}

test('a member that has not applied an instrument yet serves its stream and replay (after a read barrier), not unknown_instrument', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const member = cluster.procs.find((p) => p !== leader)!;
  const stream = await askWhileLagging(t, leader, member, 'LAG', '/v1/md/stream?instruments=LAG&kinds=delta,book');
  t.is(stream.statusCode, 200);
  t.like(await firstLine(stream), { kind: 'book', bestBid: '10.5' });
  const replay = await askWhileLagging(t, leader, member, 'LAG2', '/v1/md/replay', JSON.stringify({ instruments: ['LAG2'], kinds: ['delta'], speed: 'max' }));
  t.is(replay.statusCode, 200);
  t.like(await firstLine(replay), { kind: 'delta', instrument: 'LAG2', price: '10.5' });
});
