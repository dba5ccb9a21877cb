/**
 * Purges that land in the middle of a read: between two pages of an instrument's stored blocks,
 * between a checkpoint search's listing and its reads, or between the choice of a checkpoint and
 * the roll forward from it. Each read either ends 410 `compacted` or, where it can, starts again
 * — never an answer with a silent gap, a wrong book, or a 500.
 *
 * A hook on the node's scans applies the purge (through the API, as an operator would) just
 * before the scan each test names, so it lands exactly there; each test checks the hook fired.
 */
import test, { type ExecutionContext } from 'ava';
import { QuorumClient } from '../../ts/client';
import { checkpointsPrefix, eventsPrefix } from '../../ts/market/state';
import type { ScanOptions } from '../../ts/native';
import type { RaftNode } from '../../ts/node/raft_node';
import { singleNode } from '../helpers/single_node';
import { events, ingest, timeAt } from './purge_events';

/** 60,000 events, 45,000 of AAPL: its blocks span about four engine pages (1 MiB each). */
const COUNT = 60_000;

interface Harness {
  node: RaftNode;
  url(path: string): string;
  get(path: string): Promise<{ status: number; text: string }>;
  /** Purges before `fraction` of the day just before the first scan `when` holds for; the kept start. */
  purgeAt(fraction: number, when: (options: ScanOptions) => boolean): { kept: Promise<string>; fired: () => boolean };
  /** Scans of AAPL's stored blocks (the first page: no `after`) and of its checkpoints (one probe). */
  firstBlocks: (o: ScanOptions) => boolean;
  laterBlocks: (o: ScanOptions) => boolean;
  checkpointProbe: (o: ScanOptions) => boolean;
}

async function harness(t: ExecutionContext): Promise<Harness> {
  t.timeout(180_000);
  const { url, node } = await singleNode(t);
  await ingest(t, url, events(COUNT), 2000);
  const get = async (path: string) => {
    const res = await fetch(url(path));
    return { status: res.status, text: await res.text() };
  };
  const id = node.market.idOf('AAPL')!;
  const keys = node.keys;
  const scan = keys.scan.bind(keys);
  let hook: { when: (o: ScanOptions) => boolean; run: () => Promise<void> } | undefined;
  (keys as { scan: typeof scan }).scan = async (options) => {
    const armed = hook;
    if (armed?.when(options)) {
      hook = undefined;
      await armed.run();
    }
    return scan(options);
  };
  const purgeAt: Harness['purgeAt'] = (fraction, when) => {
    let fired = false;
    const kept = new Promise<string>((resolve, reject) => {
      hook = {
        when,
        run: async () => {
          fired = true;
          const res = await fetch(url(`/v1/md/history?before=${timeAt(COUNT, fraction)}`), { method: 'DELETE' });
          const body = (await res.json()) as { instruments: { instrument: string; fromSeq: string }[] };
          const aapl = body.instruments.find((i) => i.instrument === 'AAPL');
          if (res.status !== 200 || !aapl) reject(new Error(`purge: ${res.status} ${JSON.stringify(body)}`));
          else resolve(aapl.fromSeq);
        },
      };
    });
    return { kept, fired: () => fired };
  };
  const startsWith = (o: ScanOptions, prefix: string) => o.start !== undefined && o.start.toString().startsWith(prefix);
  const blocks = (o: ScanOptions) => startsWith(o, eventsPrefix(id));
  return {
    node,
    url,
    get,
    purgeAt,
    firstBlocks: (o) => blocks(o) && o.after === undefined,
    laterBlocks: (o) => blocks(o) && o.after !== undefined,
    checkpointProbe: (o) => startsWith(o, checkpointsPrefix(id)) && o.limit === 1,
  };
}

/** The seq of AAPL's first event at or after `fraction` of the day. */
async function seqAt(h: Harness, fraction: number): Promise<string> {
  const page = await h.get(`/v1/md/ticks/AAPL?from=${timeAt(COUNT, fraction)}&limit=1`);
  return (JSON.parse(page.text) as { events: { seq: string }[] }).events[0].seq;
}

function assertCompacted(t: ExecutionContext, answer: { status: number; text: string }, kept: string, what: string): void {
  t.is(answer.status, 410, `${what}: ${answer.text.slice(0, 200)}`);
  t.like(JSON.parse(answer.text), { error: { code: 'compacted', fromSeq: kept } }, what);
}

test('a ticks page that a purge overtakes between two pages of blocks is 410; one the purge stays behind is whole', async (t) => {
  const h = await harness(t);
  // 4,000 trades are about 20,000 AAPL events: two pages of blocks.
  const path = `/v1/md/ticks/AAPL?kinds=trade&limit=4000&afterSeq=${await seqAt(h, 0.4)}`;
  const before = await h.get(path);
  t.is(before.status, 200);
  const behind = h.purgeAt(0.3, h.laterBlocks);
  t.is((await h.get(path)).text, before.text, 'a purge that stays behind the read changes nothing');
  t.true(behind.fired());
  await behind.kept;

  const overtaking = h.purgeAt(0.8, h.laterBlocks);
  const answer = await h.get(path);
  t.true(overtaking.fired());
  assertCompacted(t, answer, await overtaking.kept, 'a page whose second part the purge dropped');
});

test('a stream catch-up and bars that a purge overtakes mid-read end compacted', async (t) => {
  const h = await harness(t);
  const stream = h.purgeAt(0.5, h.laterBlocks);
  const lines = (await h.get(`/v1/md/stream?instruments=AAPL&kinds=trade&fromSeq=${await seqAt(h, 0.05)}`)).text.trim().split('\n');
  t.true(stream.fired());
  await stream.kept;
  t.like(JSON.parse(lines.at(-1)!), { kind: 'end', reason: 'compacted' }, 'the catch-up ends: it cannot send what was dropped');
  t.is(lines.length, 1, 'and sends nothing before it (the catch-up is read whole before it is sent)');

  const bars = h.purgeAt(0.9, h.laterBlocks);
  const answer = await h.get('/v1/md/bars/AAPL?interval=1s');
  t.true(bars.fired());
  assertCompacted(t, answer, await bars.kept, 'bars whose later records the purge dropped');
});

test('the client library fails a market stream whose catch-up a purge overtakes with compacted, not resuming past the gap', async (t) => {
  const h = await harness(t);
  const client = new QuorumClient({ endpoints: [h.url('')] });
  t.teardown(() => client.close());
  const purge = h.purgeAt(0.7, h.laterBlocks);
  const seen: string[] = [];
  const failure = await t.throwsAsync(async () => {
    for await (const line of client.marketStream({ instruments: ['AAPL'], kinds: ['trade'], fromSeq: await seqAt(h, 0.05) })) seen.push(line.kind);
  });
  t.true(purge.fired());
  await purge.kept;
  t.like(failure, { code: 'compacted' });
  t.deepEqual(seen, [], 'nothing was sent before the end');
});

test('a book as of a time whose checkpoint a purge drops before the roll forward is 410, not a wrong book', async (t) => {
  const h = await harness(t);
  const at = `/v1/md/books/AAPL?depth=20&at=${timeAt(COUNT, 0.5)}`;
  t.is((await h.get(at)).status, 200);
  const purge = h.purgeAt(0.7, h.firstBlocks);
  const answer = await h.get(at);
  t.true(purge.fired());
  assertCompacted(t, answer, await purge.kept, 'the book as of a time the purge dropped while it was rebuilt');
});

test('a checkpoint search that a purge overtakes starts again on the checkpoints left', async (t) => {
  const h = await harness(t);
  const late = `/v1/md/ticks/AAPL?from=${timeAt(COUNT, 0.95)}&limit=50`;
  const before = await h.get(late);
  t.is(before.status, 200);
  // Its first probe is a middle checkpoint, which the purge drops.
  const purge = h.purgeAt(0.8, h.checkpointProbe);
  const after = await h.get(late);
  t.true(purge.fired());
  await purge.kept;
  t.is(after.status, 200, after.text.slice(0, 200));
  t.is(after.text, before.text, 'the same page: nothing it reads was dropped');
});
