/**
 * The CLI's market-data reads: `md book|top|vwap|ticks|instruments|feeds` print what the node answers (exit
 * 1 on an error answer), `md ticks --all` and `md bars` every page in their formats, and `md stream` prints live lines — a book first, then the events as
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

test('md book, top, vwap, ticks, instruments and feeds print the node\'s answers', async (t) => {
  const { url } = await singleNode(t);
  await ingest(url('/v1/md/events'), [delta(1, '5000.25'), delta(2, '5000.5')]);
  const endpoint = ['--endpoint', url('')];
  for (const [args, path] of [
    [['md', 'book', 'ES', '--depth', '1'], '/v1/md/books/ES?depth=1'],
    [['md', 'top', 'ES,NQ'], undefined],
    [['md', 'vwap', 'ES', '--side', 'buy', '--qty', '15', '--stale'], '/v1/md/books/ES/vwap?side=buy&qty=15'],
    [['md', 'ticks', 'ES', '--limit', '1'], '/v1/md/ticks/ES?limit=1'],
    [['md', 'ticks', 'ES', '--limit', '2', '--prevailing'], '/v1/md/ticks/ES?limit=2&prevailing=true'],
    [['md', 'ticks', 'ES', '--limit', '2', '--prevailing', 'quote'], '/v1/md/ticks/ES?limit=2&prevailing=quote'],
    [['md', 'ticks', 'ES', '--kinds', 'delta', '--from', '1700000000000000002', '--to', '2023-11-15T00:00:00Z'], '/v1/md/ticks/ES?limit=100&kinds=delta&from=1700000000000000002&to=2023-11-15T00:00:00Z'],
    [['md', 'feeds'], '/v1/md/feeds'],
    [['md', 'instruments', '--prefix', 'E', '--limit', '5'], '/v1/md/instruments?prefix=E&limit=5'],
  ] as [string[], string | undefined][]) {
    const run = await runCli([...args, ...endpoint]);
    t.is(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as unknown;
    if (path) t.deepEqual(printed, await (await fetch(url(path))).json(), args.join(' '));
    else t.like(printed, { books: [{ instrument: 'ES', bestAsk: '5000.25' }], missing: ['NQ'] });
  }
  // As of the first event's time: its book had only that event's level.
  const asOf = await runCli(['md', 'top', 'ES,NQ', '--at', '1700000000000000001', ...endpoint]);
  t.is(asOf.code, 0, asOf.stderr);
  t.like(JSON.parse(asOf.stdout), { books: [{ instrument: 'ES', tsEvent: '1700000000000000001' }], missing: ['NQ'] });
  const past = await runCli(['md', 'book', 'ES', '--seq', 'abc', ...endpoint]);
  t.is(past.code, 1);
  t.is((JSON.parse(past.stdout) as { error: { code: string } }).error.code, 'invalid_query');
  t.is((await runCli(['md', 'book', 'NQ', ...endpoint])).code, 1, 'an unknown instrument is an error');
});

test('md bars prints every page as a table, CSV or JSON lines', async (t) => {
  const { url } = await singleNode(t);
  const trade = (producerSeq: number, second: number, price: string) => ({ kind: 'trade', instrument: 'ES', price, size: 3, side: 'sell', tsEvent: String(1700000000000000000n + BigInt(second) * 1_000_000_000n), producerId: 'f', producerSeq });
  await ingest(url('/v1/md/events'), [trade(1, 0, '10'), trade(2, 60, '11'), trade(3, 61, '12.5'), trade(4, 180, '9')]);
  const answer = (await (await fetch(url('/v1/md/bars/ES?interval=1m'))).json()) as { bars: Record<string, unknown>[] };
  t.is(answer.bars.length, 3);
  const endpoint = ['--endpoint', url('')];
  const json = await runCli(['md', 'bars', 'ES', '--interval', '1m', '--limit', '1', '--format', 'json', ...endpoint]);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(json.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown), answer.bars, 'three pages of one');
  const csv = await runCli(['md', 'bars', 'ES', '--interval', '1m', '--limit', '2', '--format', 'csv', ...endpoint]);
  const [header, ...rows] = csv.stdout.trim().split('\n');
  t.is(header, 'start,open,high,low,close,volume,buyVolume,sellVolume,trades,vwap');
  t.deepEqual(rows, answer.bars.map((b) => header.split(',').map((c) => String(b[c])).join(',')));
  const table = await runCli(['md', 'bars', 'ES', '--interval', '1m', '--from', '2023-11-14T22:14:00Z', ...endpoint]);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  t.is(lines.length, 3, 'a header and the two bars from 22:14');
  t.regex(lines[1], /^2023-11-14T22:14:00\.000Z +11 +12\.5 +11 +12\.5 +6 +0 +6 +2 +11\.75$/);
  const mid = await runCli(['md', 'bars', 'ES', '--interval', '1m', '--source', 'mid', '--format', 'csv', ...endpoint]);
  t.is(mid.stdout, 'start,open,high,low,close,quotes\n', 'ES has trades, no quotes: no mid bars');
  const bad = await runCli(['md', 'bars', 'ES', '--interval', '1w', ...endpoint]);
  t.is(bad.code, 1);
  t.is((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'invalid_time');
});

test('md ticks --all prints every page as JSON lines or CSV', async (t) => {
  const { url } = await singleNode(t);
  const quote = { kind: 'quote', instrument: 'ES', bidPrice: '4999.75', bidSize: 3, askPrice: '5000', askSize: 4, tsEvent: '1700000000000000009', producerId: 'f,"x"', producerSeq: 9 };
  await ingest(url('/v1/md/events'), [delta(1, '5000.25'), delta(2, '5000.5'), { kind: 'trade', instrument: 'ES', price: '5000.25', size: 2, side: 'buy', tsEvent: '1700000000000000003', producerId: 'f', producerSeq: 3 }, quote]);
  const stored = ((await (await fetch(url('/v1/md/ticks/ES'))).json()) as { events: Record<string, unknown>[] }).events;
  t.is(stored.length, 4);
  const endpoint = ['--endpoint', url('')];
  const json = await runCli(['md', 'ticks', 'ES', '--all', '--limit', '1', ...endpoint]);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(json.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown), stored, 'four pages of one');
  const csv = await runCli(['md', 'ticks', 'ES', '--all', '--format', 'csv', '--kinds', 'trade,quote', ...endpoint]);
  const [header, ...rows] = csv.stdout.trim().split('\n');
  t.is(header, 'seq,instrument,kind,tsEvent,tsRecv,action,side,price,size,orders,bidPrice,bidSize,askPrice,askSize,producerId,producerSeq,venueSeq,publisher,last,maybeBad');
  t.is(rows.length, 2);
  const trade = stored[2];
  t.is(rows[0], `${trade.seq},ES,trade,1700000000000000003,${trade.tsRecv},,buy,5000.25,2,,,,,,f,3,,,true,`);
  t.true(rows[1].includes(',4999.75,3,5000,4,"f,""x""",9,'), rows[1]);
  // With the prevailing top: the trade printed against the asks at 5000.25 (no bids).
  const withTop = await runCli(['md', 'ticks', 'ES', '--all', '--format', 'csv', '--kinds', 'trade', '--prevailing', ...endpoint]);
  const [header2, row] = withTop.stdout.trim().split('\n');
  t.true(header2.endsWith(',maybeBad,prevailing.bestBid,prevailing.bidSize,prevailing.bestAsk,prevailing.askSize'), header2);
  t.true(row.endsWith(',true,,,,5000.25,10'), row);
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
