/**
 * The CLI's market-data reads: `md book|top|vwap|ticks|feeds` print what the node answers (exit
 * 1 on an error answer), and `md stream` prints live lines — a book first, then the events as
 * they are ingested — until Ctrl-C (exit 0).
 */
import test from 'ava';
import { followCli, runCli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

const delta = (producerSeq: number, price: string) => ({ kind: 'delta', instrument: 'ES', action: 'add', side: 'ask', price, size: 10, tsEvent: String(1700000000000000000n + BigInt(producerSeq)), producerId: 'f', producerSeq });

async function ingest(url: string, events: object[]): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
}

test('md book, top, vwap, ticks and feeds print the node\'s answers', async (t) => {
  const { url } = await singleNode(t);
  await ingest(url('/v1/md/events'), [delta(1, '5000.25'), delta(2, '5000.5')]);
  const endpoint = ['--endpoint', url('')];
  for (const [args, path] of [
    [['md', 'book', 'ES', '--depth', '1'], '/v1/md/books/ES?depth=1'],
    [['md', 'top', 'ES,NQ'], undefined],
    [['md', 'vwap', 'ES', '--side', 'buy', '--qty', '15', '--stale'], '/v1/md/books/ES/vwap?side=buy&qty=15'],
    [['md', 'ticks', 'ES', '--limit', '1'], '/v1/md/ticks/ES?limit=1'],
    [['md', 'feeds'], '/v1/md/feeds'],
  ] as [string[], string | undefined][]) {
    const run = await runCli([...args, ...endpoint]);
    t.is(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as unknown;
    if (path) t.deepEqual(printed, await (await fetch(url(path))).json(), args.join(' '));
    else t.like(printed, { books: [{ instrument: 'ES', bestAsk: '5000.25' }], missing: ['NQ'] });
  }
  const past = await runCli(['md', 'book', 'ES', '--seq', 'abc', ...endpoint]);
  t.is(past.code, 1);
  t.is((JSON.parse(past.stdout) as { error: { code: string } }).error.code, 'invalid_query');
  t.is((await runCli(['md', 'book', 'NQ', ...endpoint])).code, 1, 'an unknown instrument is an error');
});

test('md stream prints a book, then events as they are ingested, until Ctrl-C', async (t) => {
  const { url } = await singleNode(t);
  await ingest(url('/v1/md/events'), [delta(1, '5000.25')]);
  const run = followCli(t, ['md', 'stream', 'ES', '--kinds', 'delta,book', '--depth', '1', '--endpoint', url('')]);
  await pollUntil(async () => run.out().includes('\n'), 'the opening book printed');
  await ingest(url('/v1/md/events'), [delta(2, '4999.75')]);
  await pollUntil(async () => run.out().includes('"producerSeq":"2"'), 'the new event printed');
  const lines = run.out().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; price?: string; bestAsk?: string });
  t.like(lines[0], { kind: 'book', bestAsk: '5000.25' });
  t.true(lines.some((l) => l.kind === 'delta' && l.price === '4999.75'));
  run.stop();
  t.is(await run.closed, 0, run.err());
});
