/**
 * The change feed's resume rules: a watch from a revision the node retains gets those changes
 * first; one from a revision the node has not reached yet (a client resuming on a member that
 * lags) gets nothing below it as the node catches up; one from before the history is compacted.
 */
import test from 'ava';
import { ChangeFeed, type KvChange, type WatchSink, type Watching } from '../../ts/node/change_feed';
import { changeMatcher } from '../../ts/node/key_match';

const A = changeMatcher({ prefix: 'a/' });

const put = (key: string, revision: number): KvChange => ({ revision, type: 'put', key, value: Buffer.from('1') });

function sink() {
  const got: string[] = [];
  return { got, sink: { send: (cs: readonly KvChange[]) => (cs.forEach((c) => got.push(`${c.key}@${c.revision}`)), true), end: () => undefined } };
}

/** Opens a watch and runs its catch-up to the end, as the API does (without waiting for a reader). */
function watch(feed: ChangeFeed, prefix: string, from: number | undefined, into: WatchSink): Watching | 'compacted' {
  const w = feed.watch(changeMatcher({ prefix }), from, into);
  if (w === 'compacted') return w;
  for (;;) {
    const part = w.catchUp();
    if (part === 'compacted') return part;
    into.send(part.changes);
    if (part.live) return w;
  }
}

test('a watch resumed ahead of a lagging node gets nothing below its revision as the node catches up', (t) => {
  const feed = new ChangeFeed(10);
  const w = sink();
  t.not(watch(feed, 'a/', 14, w.sink), 'compacted');
  feed.publish([put('a/1', 11), put('b/1', 11)], 11);
  feed.publish([put('a/2', 13)], 13);
  feed.publish([put('a/3', 14), put('a/4', 15)], 15);
  t.deepEqual(w.got, ['a/3@14', 'a/4@15']);
});

test('a watch from a retained revision gets the history since, then live changes; older is compacted', (t) => {
  const feed = new ChangeFeed(0, 3);
  feed.publish([put('a/1', 1), put('a/2', 2)], 2);
  const w = sink();
  t.not(watch(feed, 'a/', 2, w.sink), 'compacted');
  feed.publish([put('a/3', 3)], 3);
  t.deepEqual(w.got, ['a/2@2', 'a/3@3']);
  feed.publish([put('a/4', 4)], 4);
  t.is(watch(feed, 'a/', 1, sink().sink), 'compacted', 'history holds 3 changes: revision 1 is gone');
});

test('history is trimmed by whole revisions: a watch from the oldest retained revision gets all of it', (t) => {
  const feed = new ChangeFeed(0, 3);
  feed.publish([put('a/1', 1), put('a/2', 1)], 1);
  feed.publish([put('a/3', 2), put('a/4', 2)], 2);
  // 4 changes, 3 kept at most: dropping a/1 alone would leave half of revision 1 behind.
  t.is(watch(feed, 'a/', 1, sink().sink), 'compacted');
  const w = sink();
  t.not(watch(feed, 'a/', 2, w.sink), 'compacted');
  t.deepEqual(w.got, ['a/3@2', 'a/4@2']);
});

test('history is bounded by bytes too: large values leave fewer changes retained, by whole revisions', (t) => {
  // 2,000-byte values against 10,000 bytes of history: four changes fit (each also costs its key and overhead).
  const feed = new ChangeFeed(0, 1000, 10_000);
  for (let rev = 1; rev <= 10; rev++) feed.publish([{ revision: rev, type: 'put', key: `a/${rev}`, value: Buffer.alloc(2000, 120) }], rev);
  t.is(watch(feed, 'a/', 6, sink().sink), 'compacted');
  const w = sink();
  t.not(watch(feed, 'a/', 7, w.sink), 'compacted');
  t.deepEqual(w.got, ['a/7@7', 'a/8@8', 'a/9@9', 'a/10@10']);
});

test('a retained value sliced from a much larger buffer is copied: the history pins what it counts', (t) => {
  const feed = new ChangeFeed(0);
  const frame = Buffer.alloc(1 << 20, 7);
  feed.publish([{ revision: 1, type: 'put', key: 'k', value: frame.subarray(100, 200) }], 1);
  const got: KvChange[] = [];
  watch(feed, '', 1, { send: (cs) => (got.push(...cs), true), end: () => undefined });
  t.is(got[0].value!.length, 100);
  t.true(got[0].value!.buffer.byteLength < 1 << 20, 'not a view of the 1 MiB frame');
  t.deepEqual(got[0].value, frame.subarray(100, 200));
});

test('a catch-up comes in bounded parts of whole revisions; changes published meanwhile come through it once, then live', (t) => {
  const feed = new ChangeFeed(0);
  // 30,000 changes, three to a revision, half of them under the prefix.
  const publishRevisions = (from: number, to: number) => {
    for (let rev = from; rev <= to; rev++) feed.publish([0, 1, 2].map((k) => put(`${(rev + k) % 2 ? 'a' : 'b'}/${rev}.${k}`, rev)), rev);
  };
  publishRevisions(1, 10_000);
  const got: KvChange[] = [];
  const w = feed.watch(A, 1, { send: (cs) => (got.push(...cs), true), end: () => undefined });
  if (w === 'compacted') return t.fail();
  let parts = 0;
  for (let live = false; !live; parts++) {
    const part = w.catchUp();
    if (part === 'compacted') return t.fail();
    const last = part.changes.at(-1);
    if (last && !part.live) t.true(part.changes.filter((c) => c.revision === last.revision).length === [0, 1, 2].filter((k) => (last.revision + k) % 2).length, 'a part ends on a revision end');
    got.push(...part.changes);
    live = part.live;
    if (parts === 0) publishRevisions(10_001, 10_100);
  }
  t.true(parts >= 3, `${parts} parts of at most ${10_000} changes read`);
  publishRevisions(10_101, 10_102);
  const expected = [];
  for (let rev = 1; rev <= 10_102; rev++) for (const k of [0, 1, 2]) if ((rev + k) % 2) expected.push(`a/${rev}.${k}@${rev}`);
  t.deepEqual(got.map((c) => `${c.key}@${c.revision}`), expected);
});

test('a catch-up the history is trimmed past is compacted, and gets nothing more', (t) => {
  const feed = new ChangeFeed(0, 15_000);
  for (let rev = 1; rev <= 15_000; rev++) feed.publish([put(`a/${rev}`, rev)], rev);
  const got: KvChange[] = [];
  const w = feed.watch(A, 1, { send: (cs) => (got.push(...cs), true), end: () => undefined });
  if (w === 'compacted') return t.fail();
  const first = w.catchUp();
  t.false(first !== 'compacted' && first.live);
  // The reader is slow: 15,000 more changes push its next revision out of the history.
  for (let rev = 15_001; rev <= 30_000; rev++) feed.publish([put(`a/${rev}`, rev)], rev);
  t.is(w.catchUp(), 'compacted');
  feed.publish([put('a/last', 30_001)], 30_001);
  t.is(got.length, 0, 'it is no longer a watcher');
  t.is(feed.watcherCount, 0);
});

test('a snapshot install ends every watch, each at the revision it was sent through', (t) => {
  const feed = new ChangeFeed(0);
  for (let rev = 1; rev <= 20_000; rev++) feed.publish([put(`a/${rev}`, rev)], rev);
  const ends: [string, number][] = [];
  const end = (name: string) => ({ send: () => true, end: (_reason: string, revision: number) => ends.push([name, revision]) });
  const live = feed.watch(A, undefined, end('live'));
  const behind = feed.watch(A, 5, end('behind'));
  const ahead = feed.watch(A, 20_050, end('ahead'));
  if (live === 'compacted' || behind === 'compacted' || ahead === 'compacted') return t.fail();
  t.true((live.catchUp() as { live: boolean }).live);
  t.true((ahead.catchUp() as { live: boolean }).live);
  const part = behind.catchUp();
  if (part === 'compacted') return t.fail();
  t.false(part.live, 'a first part leaves the rest');
  feed.reset(30_000);
  t.deepEqual(ends.sort(), [['ahead', 20_049], ['behind', part.changes.at(-1)!.revision], ['live', 20_000]]);
  t.is(feed.watcherCount, 0);
});
