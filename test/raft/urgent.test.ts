/**
 * `RawNode.takeUrgent`: the read path's output leaves while a Ready is still being persisted
 * (a driver's fsync), and nothing that depends on durability leaves early.
 */
import test from 'ava';
import { MemoryStorage, type Message, MessageType, RawNode, message, mulberry32 } from '../../ts/raft';
import { Net, bytes, str } from './net';

/** Steps `msgs` into their recipients (none is delivered twice, none dropped). */
function deliver(net: Net, msgs: Message[]): void {
  for (const m of msgs) net.node(m.to).step(m);
}

test('a linearizable read is confirmed while the leader and a follower each hold an unpersisted Ready', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  const leader = net.node(1);
  const committed = leader.committed;
  leader.propose([bytes('w1')]);
  const leaderRd = leader.ready(); // being persisted: not advanced
  const appends = leaderRd.messages.filter((m) => m.type === MessageType.App);
  t.is(appends.length, 2);
  deliver(net, appends.filter((m) => m.to === 2));
  const followerRd = net.node(2).ready(); // its fsync of w1 is in flight: the AppResp waits for it
  t.true(followerRd.messages.some((m) => m.type === MessageType.AppResp));

  leader.readIndex(bytes('r1'));
  const round = leader.takeUrgent();
  t.deepEqual(round.messages.map((m) => [m.type, m.to, str(m.context!)]), [
    [MessageType.Heartbeat, 2, 'r1'],
    [MessageType.Heartbeat, 3, 'r1'],
  ]);
  t.deepEqual(round.readStates, []);
  deliver(net, round.messages.filter((m) => m.to === 2));
  const answer = net.node(2).takeUrgent();
  t.deepEqual(answer.messages.map((m) => [m.type, m.to]), [[MessageType.HeartbeatResp, 1]]);
  deliver(net, answer.messages);
  const confirmed = leader.takeUrgent();
  t.deepEqual(confirmed.readStates.map((rs) => [rs.index, str(rs.requestCtx)]), [[committed, 'r1']]);

  // The rest stays for the Readies, in order: both finish as if nothing had left early.
  net.node(2).advance(followerRd);
  net.storages.get(1)!.append(leaderRd.entries);
  leader.advance(leaderRd);
  deliver(net, followerRd.messages);
  net.stabilize();
  t.deepEqual(net.appliedData(3).slice(-1), ['w1']);
  t.deepEqual(net.readStates.get(1), [], 'the confirmed read was handed out once');
});

test("a heartbeat answer waits for the Ready when the heartbeat raised the follower's term", (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  const follower = net.node(3);
  const term = follower.term;
  const heartbeat = (): Message => message({ type: MessageType.Heartbeat, to: 3, from: 2, term: term + 1, commit: 0 });
  follower.step(heartbeat());
  t.is(follower.term, term + 1);
  t.deepEqual(follower.takeUrgent().messages, [], 'its new term is not durable yet');
  const rd = follower.ready();
  t.true(rd.mustSync);
  t.deepEqual(rd.messages.map((m) => m.type), [MessageType.HeartbeatResp]);
  follower.advance(rd);
  follower.step(heartbeat());
  t.deepEqual(follower.takeUrgent().messages.map((m) => m.type), [MessageType.HeartbeatResp], 'durable now: it leaves at once');
});

test('takeUrgent leaves votes and append answers to the Ready', (t) => {
  const node = new RawNode({ id: 1, storage: MemoryStorage.withVoters([1, 2, 3]), random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  node.campaign();
  t.deepEqual(node.takeUrgent().messages, [], 'vote requests carry a term that must be durable first');
  t.true(node.ready().messages.some((m) => m.type === MessageType.PreVote || m.type === MessageType.Vote));

  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.node(1).propose([bytes('w1')]);
  const rd = net.node(1).ready();
  deliver(net, rd.messages.filter((m) => m.type === MessageType.App && m.to === 2));
  t.deepEqual(net.node(2).takeUrgent().messages, [], 'an append is answered only once it is durable');
  t.true(net.node(2).ready().messages.some((m) => m.type === MessageType.AppResp));
});
