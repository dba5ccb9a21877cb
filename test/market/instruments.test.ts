/**
 * `GET /v1/md/instruments`: the instruments held, in the UTF-8 byte order of their names, a page
 * at a time, each with its first stored and last applied event — compared with what ticks and
 * books answer — and its kept start after a purge; a token sees only the instruments it may read.
 */
import test from 'ava';
import { bootstrapAdmin } from '../../ts/api/auth';
import { newToken } from '../../ts/auth/model';
import { QuorumClient } from '../../ts/client';
import { singleNode } from '../helpers/single_node';

type Answer = { status: number; json: any };

async function call(url: string, method = 'GET', body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

// Names whose JavaScript order differs from their byte order (U+FF76 before U+1F600 in bytes).
const NAMES = ['MSFT', 'AAPL', 'AMZN', 'B\u{1F600}', 'B\uFF76', 'ESZ6'];

let producerSeq = 0;
const trade = (instrument: string, tsEvent: number) => JSON.stringify({ kind: 'trade', instrument, price: '10.5', size: 1, side: 'buy', tsEvent, producerId: 'p', producerSeq: ++producerSeq });

async function ingest(url: (path: string) => string, lines: string[], token?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(url('/v1/md/events'), { method: 'POST', headers, body: lines.join('\n') });
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
}

test('instruments come in name byte order, a page at a time, each with its first stored and last applied event', async (t) => {
  const { url } = await singleNode(t);
  for (let round = 0; round < 3; round++) await ingest(url, NAMES.map((n, i) => trade(n, 1000 * round + i + 1)));
  // A name whose only event is a duplicate: known, without events.
  await ingest(url, [JSON.stringify({ kind: 'trade', instrument: 'ZERO', price: '1', size: 1, side: 'buy', tsEvent: 1, producerId: 'p', producerSeq: 1 })]);
  const byBytes = [...NAMES, 'ZERO'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  t.notDeepEqual(byBytes, [...NAMES, 'ZERO'].sort(), 'the names order differently as JavaScript strings');

  const all = await call(url('/v1/md/instruments'));
  t.is(all.status, 200);
  t.deepEqual(all.json.instruments.map((i: { instrument: string }) => i.instrument), byBytes);
  t.false(all.json.more);
  for (const item of all.json.instruments) {
    if (item.instrument === 'ZERO') {
      t.like(item, { firstSeq: null, firstTsEvent: null, lastSeq: null, lastTsEvent: null, keptFromSeq: null, maybeBad: false });
      continue;
    }
    const ticks = (await call(url(`/v1/md/ticks/${encodeURIComponent(item.instrument)}`))).json.events as { seq: string; tsEvent: string }[];
    const book = (await call(url(`/v1/md/books/${encodeURIComponent(item.instrument)}`))).json as { seq: string; tsEvent: string };
    t.deepEqual(item, { instrument: item.instrument, firstSeq: ticks[0].seq, firstTsEvent: ticks[0].tsEvent, lastSeq: ticks.at(-1)!.seq, lastTsEvent: ticks.at(-1)!.tsEvent, keptFromSeq: null, maybeBad: false });
    t.is(book.seq, item.lastSeq);
  }

  const paged: string[] = [];
  for (let after: string | undefined; ; ) {
    const page = await call(url(`/v1/md/instruments?limit=2${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`));
    paged.push(...page.json.instruments.map((i: { instrument: string }) => i.instrument));
    if (!page.json.more) break;
    t.is(page.json.next, paged.at(-1));
    after = page.json.next;
  }
  t.deepEqual(paged, byBytes);
  t.deepEqual((await call(url('/v1/md/instruments?prefix=A'))).json.instruments.map((i: { instrument: string }) => i.instrument), ['AAPL', 'AMZN']);
  t.like((await call(url('/v1/md/instruments?limit=1001'))).json.error, { code: 'invalid_limit' });
  t.like((await call(url('/v1/md/instruments?prefx=A'))).json.error, { code: 'invalid_query' });

  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const listed: string[] = [];
  for await (const item of client.instruments({ pageSize: 3 })) listed.push(item.instrument);
  t.deepEqual(listed, byBytes);
});

test('after a purge an instrument names its kept start, and its first stored event lies past it', async (t) => {
  const { url } = await singleNode(t);
  // 12,000 trades of one instrument, a millisecond apart: checkpoints every 5,000.
  for (let b = 0; b < 12; b++) await ingest(url, Array.from({ length: 1000 }, (_, i) => trade('ES', (b * 1000 + i + 1) * 1_000_000)));
  const purge = await call(url(`/v1/md/history?before=${11_000 * 1_000_000}`), 'DELETE');
  t.is(purge.status, 200);
  const kept = purge.json.instruments[0].fromSeq as string;
  const [item] = (await call(url('/v1/md/instruments'))).json.instruments;
  t.is(item.keptFromSeq, kept);
  t.true(BigInt(item.firstSeq) > BigInt(kept));
  t.is(item.firstSeq, (await call(url('/v1/md/ticks/ES?limit=1'))).json.events[0].seq);
});

test('a token allowed some instruments lists only those', async (t) => {
  const n = await singleNode(t, {}, true, true);
  const admin = newToken();
  t.is(await bootstrapAdmin(n.node, admin), 'applied');
  await ingest(n.url, NAMES.map((name, i) => trade(name, i + 1)), admin);
  t.is((await call(n.url('/v1/auth/roles/a-desk'), 'PUT', { permissions: [{ kind: 'md', prefix: 'A', access: 'read' }] }, admin)).status, 200);
  const reader = (await call(n.url('/v1/auth/tokens'), 'POST', { subject: 'r', roles: ['a-desk'] }, admin)).json.token as string;
  t.deepEqual((await call(n.url('/v1/md/instruments'), 'GET', undefined, reader)).json.instruments.map((i: { instrument: string }) => i.instrument), ['AAPL', 'AMZN']);
  t.like((await call(n.url('/v1/md/instruments?prefix=M'), 'GET', undefined, reader)).json.error, { code: 'permission_denied' });
});
