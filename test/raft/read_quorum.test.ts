/**
 * Read rounds ask just a quorum (read_index.ts): after a round every member answered, a round's
 * heartbeat goes to the quickest voters only; a lost one is covered by the periodic heartbeat.
 */
import test from 'ava';
import { MessageType } from '../../ts/raft';
import { READ_ROUND_ALL_EVERY } from '../../ts/raft/read_index';
import { coreOf } from '../helpers/core';
import { bytes, Net, str } from './net';

/** One read on `lead`: the members its round's heartbeats went to, and whether it was confirmed. */
function round(net: Net, lead: number, ctx: string): { to: number[]; confirmed: boolean } {
  const mark = net.sent.length;
  net.node(lead).readIndex(bytes(ctx));
  net.stabilize();
  const to = net.sent.slice(mark).filter((m) => m.type === MessageType.Heartbeat && m.from === lead).map((m) => m.to);
  return { to: to.sort(), confirmed: net.readStates.get(lead)!.some((s) => str(s.requestCtx) === ctx) };
}

for (const ids of [[1, 2, 3], [1, 2, 3, 4, 5]]) {
  test(`${ids.length} voters: the first round asks every member, later ones just a quorum, and every read is confirmed`, (t) => {
    const net = new Net(ids);
    net.campaign(1);
    net.propose(1, 'x');
    const first = round(net, 1, 'r0');
    t.deepEqual(first.to, ids.slice(1));
    t.true(first.confirmed);
    const quorumPeers = Math.floor(ids.length / 2);
    for (let i = 1; i < 10; i++) {
      const r = round(net, 1, `r${i}`);
      t.is(r.to.length, quorumPeers, `round ${i} asks ${quorumPeers} followers`);
      t.true(r.confirmed);
    }
    const states = net.readStates.get(1)!;
    t.true(states.every((s) => s.index === coreOf(net.node(1)).log.committed));
  });
}

test('a round whose follower is cut off is confirmed by the next periodic heartbeat; later rounds ask the follower that answered', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'x');
  round(net, 1, 'r0');
  const [chosen] = round(net, 1, 'r1').to;
  const other = chosen === 2 ? 3 : 2;
  net.isolate(chosen);
  const lost = round(net, 1, 'r2');
  t.deepEqual(lost.to, [chosen]);
  t.false(lost.confirmed, 'the only follower asked is unreachable');
  // One heartbeat interval: the periodic heartbeat carries the newest pending context to everyone.
  net.tick(1, [1, other]);
  t.true(net.readStates.get(1)!.some((s) => str(s.requestCtx) === 'r2'));
  const next = round(net, 1, 'r3');
  t.deepEqual(next.to, [other]);
  t.true(next.confirmed);
});

test(`one round in ${READ_ROUND_ALL_EVERY} asks every member, so a quicker follower can take over`, (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'x');
  const toAll: number[] = [];
  for (let i = 1; i <= 2 * READ_ROUND_ALL_EVERY; i++) if (round(net, 1, `r${i}`).to.length === 2) toAll.push(i);
  t.deepEqual(toAll, [1, READ_ROUND_ALL_EVERY, 2 * READ_ROUND_ALL_EVERY]);
});
