/**
 * `/metrics` carries the market data's own series: events applied, duplicates dropped, gaps
 * found, instruments, producers, and the live streams, replays and watches open on the node.
 */
import test from 'ava';
import { singleNode } from '../helpers/single_node';
import { pollUntil } from '../helpers/poll';

const delta = (producerSeq: number, venueSeq: number) => ({ kind: 'delta', instrument: 'ES', action: 'add', side: 'bid', price: '5000', size: 1, tsEvent: producerSeq * 1_000_000_000, producerId: 'p', producerSeq, venueSeq, publisher: 1 });

async function series(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(quorumkv_(?:md|watch)_[a-z_]+) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

test('market data, streams, replays and watches are counted in /metrics', async (t) => {
  const { url } = await singleNode(t);
  const events = [delta(1, 1), delta(2, 2), delta(3, 5)]; // venueSeq 3..4 missing
  const body = [...events, events[0]].map((e) => JSON.stringify(e)).join('\n');
  const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  t.like(await res.json(), { applied: 3, duplicates: 1 });
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const open = async (path: string, init: RequestInit = {}) => (await fetch(url(path), { ...init, signal: stop.signal })).body!.getReader().read();
  await Promise.all([open('/v1/md/stream?instruments=ES'), open('/v1/watch'), open('/v1/md/replay', { method: 'POST', body: '{"instruments":["ES"],"speed":0.01}' })]);
  await pollUntil(async () => (await series(url('/metrics'))).get('quorumkv_md_replay_sessions') === 1, 'the replay listed');
  t.deepEqual(Object.fromEntries(await series(url('/metrics'))), {
    quorumkv_md_events_applied_total: 3,
    quorumkv_md_duplicates_total: 1,
    quorumkv_md_gaps_total: 1,
    quorumkv_md_instruments: 1,
    quorumkv_md_producers: 1,
    quorumkv_md_streams: 1,
    quorumkv_md_replay_sessions: 1,
    quorumkv_watch_streams: 1,
  });
});
