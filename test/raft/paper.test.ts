/**
 * Scenarios from the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
 * Algorithm") and the dissertation's PreVote/CheckQuorum chapter, each written as the paper
 * tells it.
 */
import test from 'ava';
import { EntryType, type Message, MessageType, StateType } from '../../ts/raft';
import { Net, bytes, str } from './net';
import { coreOf } from '../helpers/core';

const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

// Figure 7: a leader in term 8 and followers (a)–(f), each with a different divergent log.
const figure7Followers: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

for (const [name, followerLog] of Object.entries(figure7Followers)) {
  test(`Figure 7 (${name}): the term-8 leader brings a divergent follower's log in line with its own`, (t) => {
    const net = new Net([1, 2, 3], {}, new Map([
      [1, { terms: leaderLog, term: 7 }],
      [2, { terms: followerLog, term: Math.max(...followerLog) }],
      [3, { terms: leaderLog, term: 7 }],
    ]));
    net.campaign(1);
    t.is(coreOf(net.node(1)).state, StateType.Leader);
    t.is(coreOf(net.node(1)).term, 8);
    // The leader appended an empty entry of term 8; the follower now holds exactly its log —
    // missing entries were filled in and extraneous ones (c, d, f) removed.
    t.deepEqual(net.logTerms(1), [...leaderLog, 8]);
    t.deepEqual(net.logTerms(2), net.logTerms(1));
    t.is(coreOf(net.node(2)).log.committed, leaderLog.length + 1);
  });
}

/** Figure 8's cluster at (c): S1 leads term 4 and has copied index 2 (term 2) to a majority. */
function figure8AtC(): Net {
  const net = new Net([1, 2, 3, 4, 5], { checkQuorum: false }, new Map([
    [1, { terms: [1, 2], term: 3, commit: 1 }],
    [2, { terms: [1, 2], term: 2, commit: 1 }],
    [3, { terms: [1], term: 3, commit: 1 }],
    [4, { terms: [1], term: 3, commit: 1 }],
    [5, { terms: [1, 3], term: 3, commit: 1 }],
  ]));
  net.crash(5);
  // S1's own term-4 entry does not reach anyone yet: only older entries get through.
  net.filter = (m) => [m.type === MessageType.App ? { ...m, entries: m.entries.filter((e) => e.term < 4) } : m];
  net.campaign(1);
  net.tick(5);
  return net;
}

test('Figure 8 (c): a leader does not commit an entry of an older term by counting replicas', (t) => {
  const net = figure8AtC();
  t.is(coreOf(net.node(1)).state, StateType.Leader);
  t.is(coreOf(net.node(1)).term, 4);
  for (const id of [1, 2, 3, 4]) t.deepEqual(net.logTerms(id).slice(0, 2), [1, 2], `S${id} holds index 2 from term 2`);
  // Index 2 is on four of five servers, yet it is from term 2: commit stays at 1.
  t.is(coreOf(net.node(1)).log.committed, 1);
  t.deepEqual(net.applied.get(1)!.map((e) => e.index), [1]);
});

test('Figure 8 (d): that entry may still be overwritten by a leader of term 3 — so it was right not to commit it', (t) => {
  const net = figure8AtC();
  net.crash(1);
  net.heal();
  net.restart(5);
  net.campaign(5); // learns term 4 from the rejections
  net.campaign(5);
  t.is(coreOf(net.node(5)).state, StateType.Leader);
  for (const id of [2, 3, 4, 5]) t.deepEqual(net.logTerms(id).slice(0, 2), [1, 3], `S${id} now has term 3 at index 2`);
});

test('Figure 8 (e): once an entry of the current term is on a majority, it and index 2 commit, and S5 cannot win', (t) => {
  const net = figure8AtC();
  net.filter = undefined;
  net.tick(2);
  t.is(coreOf(net.node(1)).log.committed, 3);
  for (const id of [1, 2, 3, 4]) t.deepEqual(net.logTerms(id), [1, 2, 4]);
  net.crash(1);
  net.restart(5);
  net.campaign(5);
  net.campaign(5);
  t.not(coreOf(net.node(5)).state, StateType.Leader);
  for (const id of [2, 3, 4]) t.deepEqual(net.logTerms(id), [1, 2, 4], `S${id} kept the committed entries`);
});

test('a partitioned leader with a stale term commits nothing, and steps down when it hears the new term', (t) => {
  const net = new Net([1, 2, 3], { checkQuorum: false });
  net.campaign(1);
  net.propose(1, 'before');
  net.isolate(1);
  net.propose(1, 'stale');
  net.tick(3);
  t.is(coreOf(net.node(1)).state, StateType.Leader, 'without CheckQuorum the old leader does not notice');
  const staleCommit = coreOf(net.node(1)).log.committed;
  net.campaign(2);
  t.is(coreOf(net.node(2)).state, StateType.Leader);
  t.true(coreOf(net.node(2)).term > coreOf(net.node(1)).term);
  net.propose(2, 'fresh');
  t.is(coreOf(net.node(1)).log.committed, staleCommit, 'the stale leader never advanced its commit index');
  net.heal();
  net.tick(3);
  t.is(coreOf(net.node(1)).state, StateType.Follower);
  t.is(coreOf(net.node(1)).lead, 2);
  t.deepEqual(net.logTerms(1), net.logTerms(2));
  for (const id of [1, 2, 3]) t.deepEqual(net.appliedData(id), ['before', 'fresh'], `node ${id} never applied the stale write`);
});

test('PreVote: a node rejoining after a partition does not disrupt a healthy leader', (t) => {
  const net = new Net([1, 2, 3], { preVote: true, checkQuorum: true });
  net.campaign(1);
  const term = coreOf(net.node(1)).term;
  net.isolate(3);
  net.tick(100);
  t.is(coreOf(net.node(3)).term, term, 'pre-votes that fail do not raise the term');
  net.heal();
  net.tick(10);
  t.is(net.leader(), 1);
  for (const id of [1, 2, 3]) t.is(coreOf(net.node(id)).term, term);
});

test('without PreVote and CheckQuorum the same rejoin forces a new election (the problem PreVote solves)', (t) => {
  const net = new Net([1, 2, 3], { preVote: false, checkQuorum: false });
  net.campaign(1);
  const term = coreOf(net.node(1)).term;
  net.isolate(3);
  net.tick(100);
  t.true(coreOf(net.node(3)).term > term + 1);
  net.heal();
  net.tick(30);
  t.true(coreOf(net.node(1)).term > term, 'the leader was deposed by the higher term');
});

test('CheckQuorum: a leader that hears from no quorum within an election timeout steps down', (t) => {
  const net = new Net([1, 2, 3], { checkQuorum: true });
  net.campaign(1);
  net.isolate(1);
  net.tick(9, [1]);
  t.is(coreOf(net.node(1)).state, StateType.Leader, 'still within the election timeout');
  net.tick(11, [1]);
  t.is(coreOf(net.node(1)).state, StateType.Follower);
  t.is(coreOf(net.node(1)).lead, 0);
});

test('lost AppendEntries are retried until the follower catches up', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  let dropped = 0;
  net.filter = (m) => {
    if (m.type !== MessageType.App || m.to !== 3 || dropped === 5) return [m];
    dropped++;
    return [];
  };
  for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
  net.tick(5);
  t.is(dropped, 5, 'five appends to node 3 were lost');
  t.deepEqual(net.logTerms(3), net.logTerms(1));
  t.deepEqual(net.appliedData(3), ['e0', 'e1', 'e2', 'e3', 'e4']);
});

test('duplicated AppendEntries and acks change nothing: every entry is applied once, in order', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.filter = (m) => (m.type === MessageType.App || m.type === MessageType.AppResp ? [m, structuredClone(m)] : [m]);
  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    net.propose(1, `e${i}`);
    expected.push(`e${i}`);
  }
  net.tick(3);
  for (const id of [1, 2, 3]) {
    t.deepEqual(net.appliedData(id), expected);
    t.deepEqual(net.logTerms(id), net.logTerms(1));
  }
});

test('ReadIndex during a leader change: the deposed leader answers nothing; the new one answers only after committing in its term', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'x');
  net.isolate(1);
  net.node(1).readIndex(bytes('r1'));
  net.stabilize();
  t.deepEqual(net.readStates.get(1), [], 'no quorum confirmed node 1 as leader');

  // Node 2 or 3 wins the election but its appends are held back, so nothing of its term commits.
  net.filter = (m) => (m.type === MessageType.App && m.from !== 1 ? [] : [m]);
  net.tick(25, [2, 3]);
  const lead = net.leader()!;
  const follower = lead === 2 ? 3 : 2;
  t.not(lead, 1);
  t.is(coreOf(net.node(lead)).state, StateType.Leader);
  net.node(lead).readIndex(bytes('r2'));
  net.stabilize();
  t.deepEqual(net.readStates.get(lead), [], 'a new leader serves no read before its term has a committed entry');

  net.filter = undefined;
  net.tick(1, [2, 3]);
  const states = net.readStates.get(lead)!;
  t.is(states.length, 1);
  t.is(str(states[0].requestCtx), 'r2');
  t.true(states[0].index >= 3, 'the read index covers the write acknowledged before the read');
  t.is(coreOf(net.node(lead)).log.term(states[0].index), coreOf(net.node(lead)).term);

  // A follower gets its read index from the leader.
  net.node(follower).readIndex(bytes('r3'));
  net.stabilize();
  t.deepEqual(net.readStates.get(follower)!.map((s) => [str(s.requestCtx), s.index]), [['r3', coreOf(net.node(lead)).log.committed]]);

  net.heal();
  net.tick(3);
  t.deepEqual(net.readStates.get(1), [], 'the deposed leader never confirmed r1');
});

test('ReadIndex batching: all reads queued before one heartbeat round are confirmed by that round', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'x');
  const mark = net.sent.length;
  for (let i = 0; i < 50; i++) net.node(1).readIndex(bytes(`r${i}`));
  net.stabilize();
  const heartbeats = net.sent.slice(mark).filter((m) => m.type === MessageType.Heartbeat);
  t.deepEqual(heartbeats.map((m) => m.to).sort(), [2, 3], 'one round: one heartbeat per follower');
  t.deepEqual(net.readStates.get(1)!.map((s) => str(s.requestCtx)), Array.from({ length: 50 }, (_, i) => `r${i}`));
  t.true(net.readStates.get(1)!.every((s) => s.index === coreOf(net.node(1)).log.committed));
});

test('leadership transfer: the leader catches the target up, sends TimeoutNow, and refuses proposals meanwhile', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.cutLink(1, 3);
  for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
  t.true(coreOf(net.node(3)).log.lastIndex() < coreOf(net.node(1)).log.lastIndex(), 'node 3 lags');
  net.node(1).transferLeader(3);
  net.stabilize();
  t.is(coreOf(net.node(1)).leadTransferee, 3);
  t.throws(() => net.node(1).propose([bytes('during')]), { code: 'PROPOSAL_DROPPED' } as never);
  net.heal();
  net.tick(1);
  t.is(net.leader(), 3);
  t.is(coreOf(net.node(3)).term, 2);
  t.true(net.sent.some((m: Message) => m.type === MessageType.TimeoutNow && m.to === 3));
  net.propose(3, 'after');
  for (const id of [1, 2, 3]) t.deepEqual(net.appliedData(id), ['e0', 'e1', 'e2', 'e3', 'e4', 'after']);
});

test('leadership transfer asked of a follower is forwarded and moves leadership to the named node', (t) => {
  const net = new Net([1, 2, 3]);
  net.campaign(1);
  net.propose(1, 'e0');
  net.node(2).transferLeader(3);
  net.stabilize();
  t.is(net.leader(), 3, 'node 3 leads, not the follower that forwarded the request');
  net.propose(3, 'after');
  for (const id of [1, 2, 3]) t.deepEqual(net.appliedData(id), ['e0', 'after']);
});

test('a new leader appends an empty entry of its term so earlier entries commit', (t) => {
  const net = new Net([1, 2, 3], {}, new Map([1, 2, 3].map((id) => [id, { terms: [1, 1, 2], term: 2 }])));
  net.campaign(1);
  const log = coreOf(net.node(1)).log;
  t.is(log.lastIndex(), 4);
  t.is(log.term(4), 3);
  t.is(coreOf(net.node(1)).log.slice(4, 5, 1 << 20)![0].type, EntryType.Normal);
  t.is(log.committed, 4);
});
