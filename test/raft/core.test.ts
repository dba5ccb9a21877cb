/** Limits, invariants and the snapshot hook of the core, outside the paper's scenarios. */
import test from 'ava';
import { ConfChangeType, InvariantError, MemoryStorage, MessageType, ProgressState, RawNode, StateType, mulberry32 } from '../../ts/raft';
import { Net, bytes } from './net';
import { coreOf } from '../helpers/core';

test('config: the election timeout must exceed the heartbeat timeout', (t) => {
  t.throws(() => new RawNode({ id: 1, storage: MemoryStorage.withVoters([1]), random: mulberry32(1), electionTimeoutTicks: 2, heartbeatTimeoutTicks: 2 }), {
    message: /electionTimeoutTicks must exceed/,
  });
});

test('a driver that takes a second Ready before advancing the first hits an invariant', (t) => {
  const node = new RawNode({ id: 1, storage: MemoryStorage.withVoters([1]), random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  node.campaign();
  node.ready();
  t.throws(() => node.ready(), { instanceOf: InvariantError });
});

test('a single node commits its own entries only after advance() reports them persisted', (t) => {
  const storage = MemoryStorage.withVoters([1]);
  const node = new RawNode({ id: 1, storage, random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  node.campaign();
  const rd = node.ready();
  t.is(coreOf(node).state, StateType.Leader);
  t.is(rd.entries.length, 1);
  t.is(coreOf(node).log.committed, 0, 'not durable yet, so not counted');
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance(rd);
  t.is(coreOf(node).log.committed, 1);
  t.deepEqual(node.ready().committedEntries.map((e) => e.index), [1]);
});

test('a lone voter with a learner answers ReadIndex at once: learners are not asked to confirm leadership', (t) => {
  // Found by the chaos suite's membership nemesis: voters {1} plus a learner that is down, and
  // every linearizable read timed out waiting for a heartbeat round nobody in the quorum answers.
  const storage = MemoryStorage.withVoters([1]);
  const node = new RawNode({ id: 1, storage, random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 });
  node.campaign();
  const rd = node.ready();
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance(rd);
  node.applyConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 2 });
  node.advance(node.ready());
  node.readIndex(bytes('r1'));
  const reads = node.ready().readStates;
  t.deepEqual(reads.map((r) => [r.index, Buffer.from(r.requestCtx).toString()]), [[1, 'r1']]);
});

test('inflightMsgsMax bounds the appends in flight to a follower whose acks are lost', (t) => {
  const net = new Net([1, 2, 3], { inflightMsgsMax: 2 });
  net.campaign(1);
  net.cutLink(2, 1);
  net.cutLink(3, 1);
  const mark = net.sent.length;
  for (let i = 0; i < 10; i++) net.propose(1, `e${i}`);
  const appends = net.sent.slice(mark).filter((m) => m.type === MessageType.App && m.to === 2 && m.entries.length > 0);
  t.is(appends.length, 2);
});

test('msgBytesMax caps the entries per append (always at least one)', (t) => {
  const net = new Net([1, 2, 3], { msgBytesMax: 100 });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 10; i++) net.propose(1, 'x'.repeat(60));
  net.heal();
  const mark = net.sent.length;
  net.tick(3);
  const appends = net.sent.slice(mark).filter((m) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
  t.true(appends.length >= 10);
  t.true(appends.every((m) => m.entries.length === 1));
  t.deepEqual(net.logTerms(3), net.logTerms(1));
});

test('uncommittedBytesMax: proposals beyond the uncommitted budget are dropped with PROPOSAL_DROPPED', (t) => {
  const net = new Net([1, 2, 3], { uncommittedBytesMax: 1000 });
  net.campaign(1);
  net.isolate(1);
  net.propose(1, 'x'.repeat(600));
  t.throws(() => net.propose(1, 'y'.repeat(600)), { code: 'PROPOSAL_DROPPED' } as never);
});

test('a follower behind the compacted log receives an InstallSnapshot and then normal appends', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.crash(3);
  for (let i = 0; i < 10; i++) net.propose(1, `e${i}`);
  const leaderStorage = net.storages.get(1)!;
  const applied = coreOf(net.node(1)).log.applied;
  leaderStorage.createSnapshot(applied, { voters: [1, 2, 3], learners: [] }, bytes('image'));
  leaderStorage.compact(applied);
  net.restart(3);
  net.tick(2);
  const snaps = net.sent.filter((m) => m.type === MessageType.Snap && m.to === 3);
  t.is(snaps.length, 1);
  t.is(net.storages.get(3)!.snapshot().metadata.index, applied);
  net.propose(1, 'after');
  t.is(coreOf(net.node(3)).log.lastIndex(), coreOf(net.node(1)).log.lastIndex());
  t.deepEqual(net.appliedData(3).at(-1), 'after');
  t.is(coreOf(net.node(1)).progressOf(3)!.state, ProgressState.Replicate);
});

test('a snapshot whose configuration predates the follower joining is installed, not refused forever', (t) => {
  // As when node 3 was removed, the snapshot taken, and 3 added back: the change adding it is
  // after the snapshot, so the snapshot's configuration does not name it.
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.crash(3);
  for (let i = 0; i < 10; i++) net.propose(1, `e${i}`);
  const applied = coreOf(net.node(1)).log.applied;
  net.storages.get(1)!.createSnapshot(applied, { voters: [1, 2], learners: [] }, bytes('image'));
  net.storages.get(1)!.compact(applied);
  net.restart(3);
  net.tick(2);
  t.is(net.sent.filter((m) => m.type === MessageType.Snap && m.to === 3).length, 1, 'sent once, not again and again');
  t.is(net.storages.get(3)!.snapshot().metadata.index, applied);
  t.false(coreOf(net.node(3)).promotable(), 'not in its own configuration until a change adds it');
  net.propose(1, 'after');
  t.deepEqual(net.appliedData(3).at(-1), 'after');
});
