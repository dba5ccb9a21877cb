/**
 * Watch: KV changes under a prefix in apply order, resumable from a revision without loss or
 * duplication, 410 `compacted` below the retained history, SSE on request, and a consumer that
 * stops reading is cut off with `slow_consumer` instead of growing the node's memory.
 */
import test from 'ava';
import { WATCHES_MAX } from '../../ts/api/watch';
import { STREAMS_MAX } from '../../ts/api/md_stream';
import { singleNode } from '../helpers/single_node';
import { openStream } from '../helpers/stream_reader';

const openWatch = openStream;

const put = (url: string, key: string, value: unknown) => fetch(`${url}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ value }) }).then((r) => r.json() as Promise<{ revision: number }>);

test('a watch sees the changes under its prefix in apply order, and resumes without loss or duplication', async (t) => {
  const { url } = await singleNode(t);
  const base = url('');
  const w = await openWatch(`${base}/v1/watch?prefix=a/`);
  t.teardown(w.close);
  t.is(w.res.headers['content-type'], 'application/x-ndjson');
  const r1 = await put(base, 'a/1', { n: 1 });
  await put(base, 'b/1', 'other prefix');
  const r2 = await put(base, 'a/2', [2]);
  await fetch(`${base}/v1/kv/a/1`, { method: 'DELETE' });
  const first = await w.next();
  t.deepEqual(first, { type: 'put', key: 'a/1', value: { n: 1 }, revision: r1.revision });
  t.deepEqual(await w.next(), { type: 'put', key: 'a/2', value: [2], revision: r2.revision });
  const del = await w.next();
  t.like(del, { type: 'delete', key: 'a/1' });
  t.true(del.revision > r2.revision);
  // A client that got the first event reconnects and resumes right after it.
  const again = await openWatch(`${base}/v1/watch?prefix=a/&fromRevision=${first.revision + 1}`);
  t.teardown(again.close);
  t.deepEqual((await again.next()).revision, r2.revision);
  t.deepEqual((await again.next()).revision, del.revision);
});

test('a revision older than the retained history is 410 compacted (0 is now, as etcd); SSE is served on request', async (t) => {
  const { url } = await singleNode(t, { watchHistoryMax: 2 });
  const first = await put(url(''), 'k', 1);
  for (let i = 0; i < 3; i++) await put(url(''), 'k', 1);
  const old = await fetch(url(`/v1/watch?fromRevision=${first.revision}`));
  t.is(old.status, 410);
  t.is(((await old.json()) as any).error.code, 'compacted');
  const sse = await openWatch(url('/v1/watch?prefix=k&fromRevision=0'), { accept: 'text/event-stream' });
  t.teardown(sse.close);
  t.is(sse.res.headers['content-type'], 'text/event-stream');
  const r = await put(url(''), 'k', 2);
  t.deepEqual(await sse.next(), { type: 'put', key: 'k', value: 2, revision: r.revision });
});

/**
 * An SSE watch, open (its headers arrived: the node registered it in the same turn it sent
 * them); `until` reads its raw events (blank-line separated) until `text` shows up, progress
 * events left out.
 */
async function openSse(url: string, headers: Record<string, string> = {}): Promise<{ until: (text: string) => Promise<string[]> }> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  const reader = res.body!.getReader();
  return {
    until: async (until) => {
      let text = '';
      while (!text.includes(until)) text += Buffer.from((await reader.read()).value!).toString();
      await reader.cancel();
      return text.split('\n\n').filter((e) => e.length > 0 && !e.includes('"progress"'));
    },
  };
}

test('SSE: the last change of each revision carries its id; Last-Event-ID resumes right after it', async (t) => {
  const { url } = await singleNode(t);
  const watching = await openSse(url('/v1/watch?prefix=w/'));
  const batch = (await (await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops: [{ op: 'put', key: 'w/a', value: 1 }, { op: 'put', key: 'w/b', value: 2 }] }) })).json()) as { results: { revision: number }[] };
  const r = batch.results[0].revision;
  const r2 = (await put(url(''), 'w/c', 3)).revision;
  const events = await watching.until('"w/c"');
  t.deepEqual(events, [
    `data: {"type":"put","key":"w/a","value":1,"revision":${r}}`,
    `id: ${r}\ndata: {"type":"put","key":"w/b","value":2,"revision":${r}}`,
    `id: ${r2}\ndata: {"type":"put","key":"w/c","value":3,"revision":${r2}}`,
  ]);
  // An EventSource reconnects to the same URL (an older fromRevision too) with the last id it saw.
  const resumed = await (await openSse(url('/v1/watch?prefix=w/&fromRevision=1'), { 'last-event-id': String(r) })).until('"w/c"');
  t.deepEqual(resumed, [`id: ${r2}\ndata: {"type":"put","key":"w/c","value":3,"revision":${r2}}`]);
  const bad = await fetch(url('/v1/watch?prefix=w/'), { headers: { 'last-event-id': 'x' } });
  t.is(bad.status, 400);
  t.like(await bad.json(), { error: { code: 'invalid_revision' } });
});

test('a watcher that stops reading is ended with slow_consumer once its buffer is full', async (t) => {
  const { url, node } = await singleNode(t);
  const w = await openWatch(url('/v1/watch?prefix=big/'));
  t.teardown(w.close);
  w.res.pause();
  t.is(node.feed.watcherCount, 1);
  const value = 'x'.repeat(500_000);
  // The kernel's socket buffers take the first megabytes; then the node's own buffer fills.
  let writes = 0;
  while (node.feed.watcherCount > 0 && writes < 400) await put(url(''), `big/${writes++}`, value);
  t.is(node.feed.watcherCount, 0, `still watching after ${writes} writes of 500 KB`);
  w.res.resume();
  let last: any;
  let previous: any;
  for (;;) {
    last = await w.next();
    if (last.type !== 'put') break;
    previous = last;
  }
  t.is(last.type, 'slow_consumer');
  // Everything written before the cut arrives; the last line names where to resume from.
  t.is(last.revision, previous.revision);
  t.is(previous.key, `big/${writes - 1}`);
});

test('a watch resumed far back gets a history larger than its buffer whole, paced by its reader, then live changes', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t);
  const value = 'v'.repeat(300);
  // 20,000 changes of over 300 bytes: 6+ MiB of lines, past the 4 MiB a live reader may lag.
  for (let b = 0; b < 20; b++) {
    const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `h/${b * 1000 + i}`, value }));
    t.is((await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops }) })).status, 200);
  }
  const w = await openWatch(url('/v1/watch?prefix=h/&fromRevision=1'));
  t.teardown(w.close);
  w.res.pause();
  await put(url(''), 'h/live', 1);
  w.res.resume();
  const keys: string[] = [];
  for (let n = 0; n <= 20_000; n++) {
    const line = await w.next();
    t.is(line.type, 'put', JSON.stringify(line).slice(0, 100));
    if (line.type !== 'put') return;
    keys.push(line.key);
  }
  t.deepEqual(keys, [...Array.from({ length: 20_000 }, (_, i) => `h/${i}`), 'h/live']);
  await put(url(''), 'h/after', 2);
  t.like(await w.next(), { type: 'put', key: 'h/after' });
});

test('past WATCHES_MAX open watches (or STREAMS_MAX market streams) a node answers 503 overloaded', async (t) => {
  const { url, node } = await singleNode(t);
  // As many open as the limit (opening 4,096 real ones would only slow the test down).
  Object.defineProperty(node.feed, 'watcherCount', { get: () => WATCHES_MAX });
  Object.defineProperty(node.market.stream, 'count', { get: () => STREAMS_MAX });
  for (const path of ['/v1/watch?prefix=a/', '/v1/md/stream?instruments=AAPL']) {
    const res = await fetch(url(path));
    t.is(res.status, 503, path);
    t.is(res.headers.get('retry-after'), '1');
    t.like(await res.json(), { error: { code: 'overloaded' } });
  }
});

test('a watch follows one key (not the keys it begins), a range in UTF-8 byte order, and only puts or deletes', async (t) => {
  const { url } = await singleNode(t);
  const base = url('');
  const key = await openWatch(`${base}/v1/watch?key=lock`);
  t.teardown(key.close);
  // [ｶ, 😀): JavaScript's order puts U+1F600 (a surrogate pair) first; the engine's bytes put it after.
  const range = await openWatch(`${base}/v1/watch?start=${encodeURIComponent('\uff76')}&end=${encodeURIComponent('\u{1f600}')}`);
  t.teardown(range.close);
  const deletes = await openWatch(`${base}/v1/watch?prefix=lock&types=delete`);
  t.teardown(deletes.close);
  await put(base, 'lock2', 1);
  await put(base, 'lock/a', 1);
  await put(base, encodeURIComponent('\u{1f600}'), 1);
  const inRange = await put(base, encodeURIComponent('\uff76x'), 1);
  const mine = await put(base, 'lock', 'held');
  const gone = (await (await fetch(`${base}/v1/kv/lock`, { method: 'DELETE' })).json()) as { revision: number };
  t.deepEqual(await key.next(), { type: 'put', key: 'lock', value: 'held', revision: mine.revision });
  t.deepEqual(await key.next(), { type: 'delete', key: 'lock', revision: gone.revision });
  t.deepEqual(await range.next(), { type: 'put', key: '\uff76x', value: 1, revision: inRange.revision });
  t.deepEqual(await deletes.next(), { type: 'delete', key: 'lock', revision: gone.revision }, 'no put came before it');
  // A resumed watch of one key gets its retained changes only.
  const again = await openWatch(`${base}/v1/watch?key=lock&types=put&fromRevision=1`);
  t.teardown(again.close);
  t.deepEqual(await again.next(), { type: 'put', key: 'lock', value: 'held', revision: mine.revision });
});

test('a watch takes one of key, prefix and start/end, and types of put and delete only', async (t) => {
  const { url } = await singleNode(t);
  for (const query of ['key=a&prefix=a', 'key=a&end=b', 'prefix=a&start=a', 'start=b&end=a', 'types=patch', 'types=', 'key=']) {
    const res = await fetch(url(`/v1/watch?${query}`));
    t.is(res.status, 400, query);
    t.regex(((await res.json()) as { error: { code: string } }).error.code, /^invalid_(query|key)$/, query);
  }
});
