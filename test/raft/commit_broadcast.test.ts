/**
 * The leader tells followers a new commit index with a commit-only append only once its log is
 * committed to its end: while later entries are in flight, the next acknowledgement moves the
 * commit again and new entries carry it (raft.ts, `onCommitAdvanced`).
 */
import test from 'ava';
import { type Message, MessageType } from '../../ts/raft';
import { coreOf } from '../helpers/core';
import { Net } from './net';

test('no commit-only append while entries are in flight; one to every follower once all are committed', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'x');
  const held: Message[] = [];
  net.filter = (m) => {
    if (m.type !== MessageType.AppResp || m.to !== 1) return [m];
    held.push(m);
    return [];
  };
  net.propose(1, 'a');
  const a = coreOf(net.node(1)).log.lastIndex();
  net.propose(1, 'b');
  const b = coreOf(net.node(1)).log.lastIndex();
  t.is(b, a + 1);
  const release = (index: number) => {
    const mark = net.sent.length;
    for (const m of held.filter((r) => r.index === index)) net.node(1).step(m);
    net.stabilize();
    return net.sent.slice(mark).filter((m) => m.type === MessageType.App && m.from === 1);
  };
  // The acknowledgements of `a` commit it with `b` in flight: no append goes out.
  t.deepEqual(release(a), []);
  t.is(coreOf(net.node(1)).log.committed, a);
  t.true(coreOf(net.node(2)).log.committed < a, 'the followers have not heard of it yet');
  // Those of `b` commit the log to its end: a commit-only append to each follower.
  const appends = release(b);
  t.deepEqual(appends.map((m) => [m.to, m.entries.length, m.commit]).sort(), [[2, 0, b], [3, 0, b]]);
  net.filter = undefined;
  net.stabilize();
  for (const id of [2, 3]) t.is(coreOf(net.node(id)).log.committed, b);
});
