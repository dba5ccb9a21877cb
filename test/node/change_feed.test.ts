/**
 * The change feed's resume rules: a watch from a revision the node retains gets those changes
 * first; one from a revision the node has not reached yet (a client resuming on a member that
 * lags) gets nothing below it as the node catches up; one from before the history is compacted.
 */
import test from 'ava';
import { ChangeFeed, type KvChange } from '../../ts/node/change_feed';

const put = (key: string, revision: number): KvChange => ({ revision, type: 'put', key, value: Buffer.from('1') });

function sink() {
  const got: string[] = [];
  return { got, sink: { send: (cs: readonly KvChange[]) => (cs.forEach((c) => got.push(`${c.key}@${c.revision}`)), true), end: () => undefined } };
}

test('a watch resumed ahead of a lagging node gets nothing below its revision as the node catches up', (t) => {
  const feed = new ChangeFeed(10);
  const w = sink();
  t.not(feed.watch('a/', 14, w.sink), 'compacted');
  feed.publish([put('a/1', 11), put('b/1', 11)], 11);
  feed.publish([put('a/2', 13)], 13);
  feed.publish([put('a/3', 14), put('a/4', 15)], 15);
  t.deepEqual(w.got, ['a/3@14', 'a/4@15']);
});

test('a watch from a retained revision gets the history since, then live changes; older is compacted', (t) => {
  const feed = new ChangeFeed(0, 3);
  feed.publish([put('a/1', 1), put('a/2', 2)], 2);
  const w = sink();
  t.not(feed.watch('a/', 2, w.sink), 'compacted');
  feed.publish([put('a/3', 3)], 3);
  t.deepEqual(w.got, ['a/2@2', 'a/3@3']);
  feed.publish([put('a/4', 4)], 4);
  t.is(feed.watch('a/', 1, sink().sink), 'compacted', 'history holds 3 changes: revision 1 is gone');
});

test('history is trimmed by whole revisions: a watch from the oldest retained revision gets all of it', (t) => {
  const feed = new ChangeFeed(0, 3);
  feed.publish([put('a/1', 1), put('a/2', 1)], 1);
  feed.publish([put('a/3', 2), put('a/4', 2)], 2);
  // 4 changes, 3 kept at most: dropping a/1 alone would leave half of revision 1 behind.
  t.is(feed.watch('a/', 1, sink().sink), 'compacted');
  const w = sink();
  t.not(feed.watch('a/', 2, w.sink), 'compacted');
  t.deepEqual(w.got, ['a/3@2', 'a/4@2']);
});
