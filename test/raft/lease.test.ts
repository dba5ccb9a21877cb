/**
 * Lease-based linearizable reads (ts/raft/lease.ts) on the synchronous network, with a virtual
 * clock that advances `TICK_MS` per tick: a leader a quorum acknowledged recently answers reads
 * without a round; a leader cut off answers none once a new one could have been elected.
 */
import test from 'ava';
import { MessageType, RawNode, MemoryStorage, mulberry32, StateType } from '../../ts/raft';
import { LeaderLease, ROUNDS_MAX, leaseDurationMs } from '../../ts/raft/lease';
import { Net, bytes, str } from './net';
import { coreOf } from '../helpers/core';

const TICK_MS = 10;
const ELECTION_TICKS = 10;
/** The driver's lease: below the followers' timeout in ms, with margins for ticks and clock drift. */
const LEASE_MS = leaseDurationMs(TICK_MS, ELECTION_TICKS);

function leaseNet(startupVoteFence = true): { net: Net; clock: { ms: number }; tick: (n: number, only?: number[]) => void } {
  const clock = { ms: 0 };
  const net = new Net([1, 2, 3], { leaseReadMs: LEASE_MS, nowMs: () => clock.ms, startupVoteFence, electionTimeoutTicks: ELECTION_TICKS });
  const tick = (n: number, only?: number[]): void => {
    for (let i = 0; i < n; i++) {
      clock.ms += TICK_MS;
      net.tick(1, only);
    }
  };
  // Past the start-up fence, then an election and one acknowledged heartbeat round.
  tick(ELECTION_TICKS);
  net.campaign(1);
  tick(1);
  return { net, clock, tick };
}

test('a leader holding its lease answers a read at its commit index without a heartbeat round', (t) => {
  const { net } = leaseNet();
  net.propose(1, 'x');
  const mark = net.sent.length;
  net.node(1).readIndex(bytes('r1'));
  net.stabilize();
  t.deepEqual(net.sent.slice(mark).filter((m) => m.type === MessageType.Heartbeat), [], 'no round');
  t.deepEqual(net.readStates.get(1)!.map((s) => [str(s.requestCtx), s.index]), [['r1', coreOf(net.node(1)).log.committed]]);
  // A follower's read, forwarded, is answered from the lease too.
  net.node(2).readIndex(bytes('r2'));
  net.stabilize();
  t.deepEqual(net.readStates.get(2)!.map((s) => [str(s.requestCtx), s.index]), [['r2', coreOf(net.node(1)).log.committed]]);
});

test('a lease that ran out (no acknowledged round for LEASE_MS) falls back to a heartbeat round', (t) => {
  const { net, clock } = leaseNet();
  clock.ms += LEASE_MS; // the leader's loop stalled: no ticks, no heartbeats, time passed
  const mark = net.sent.length;
  net.node(1).readIndex(bytes('r1'));
  net.stabilize();
  t.deepEqual(net.sent.slice(mark).filter((m) => m.type === MessageType.Heartbeat).map((m) => m.to).sort(), [2, 3]);
  t.deepEqual(net.readStates.get(1)!.map((s) => str(s.requestCtx)), ['r1'], 'confirmed by the round');
});

test('a partitioned leader answers no read once a new leader can exist, and the new leader sees the newer write', (t) => {
  const { net, tick } = leaseNet();
  net.propose(1, 'before');
  net.isolate(1);
  // Node 1 is paused (a GC pause, a stopped VM): no ticks, so it has not stepped down, but the
  // clock moves on. Nodes 2 and 3 elect a new leader as soon as their lease on node 1 allows.
  let lead: number | undefined;
  for (let i = 0; i < 4 * ELECTION_TICKS && !(lead = [2, 3].find((id) => coreOf(net.node(id)).state === StateType.Leader)); i++) tick(1, [2, 3]);
  t.truthy(lead, 'a new leader was elected');
  net.propose(lead!, 'after');
  t.deepEqual(net.appliedData(lead!).slice(-1), ['after']);
  t.is(coreOf(net.node(1)).state, StateType.Leader, 'node 1 still believes it leads');
  net.node(1).readIndex(bytes('stale?'));
  net.stabilize();
  t.deepEqual(net.readStates.get(1), [], 'the old leader could not confirm the read: its lease had run out');
});

test('handing over leadership ends the lease for the rest of the term', (t) => {
  const { net, tick } = leaseNet();
  // Node 2 gets TimeoutNow and campaigns, but nothing it sends arrives: node 1 keeps leading
  // with node 3, and abandons the transfer after an election timeout.
  net.filter = (m) => (m.from === 2 ? [] : [m]);
  net.node(1).transferLeader(2);
  net.stabilize();
  t.true(net.sent.some((m) => m.type === MessageType.TimeoutNow && m.to === 2));
  tick(ELECTION_TICKS + 1, [1, 3]);
  t.is(coreOf(net.node(1)).state, StateType.Leader);
  t.is(coreOf(net.node(1)).leadTransferee, 0, 'the transfer was abandoned');
  const mark = net.sent.length;
  net.node(1).readIndex(bytes('r1'));
  net.stabilize();
  t.true(net.sent.slice(mark).some((m) => m.type === MessageType.Heartbeat && m.to === 3), 'node 3 acknowledged recent rounds, yet the read took a round of its own');
  t.deepEqual(net.readStates.get(1)!.map((s) => str(s.requestCtx)), ['r1']);
});

/**
 * Node 3 has been cut off from leader 1 for a while (out of lease, campaigning); node 2 still
 * hears from 1, so it refuses 3 — until it crashes and restarts right after acknowledging 1's
 * latest round, and 1 is cut off from everyone. Node 3 campaigns at once.
 */
function restartInsideLease(startupVoteFence: boolean): { net: Net; served: number[]; written: number } {
  const { net, tick } = leaseNet(startupVoteFence);
  net.cutLink(1, 3);
  net.cutLink(3, 1);
  tick(2 * ELECTION_TICKS);
  net.isolate(1);
  net.crash(2);
  net.restart(2);
  net.node(3).campaign();
  net.stabilize();
  let written = 0;
  if (coreOf(net.node(3)).state === StateType.Leader) {
    net.propose(3, 'newer');
    written = coreOf(net.node(3)).log.committed;
  }
  net.node(1).readIndex(bytes('r'));
  net.stabilize();
  return { net, served: net.readStates.get(1)!.map((s) => s.index), written };
}

test('a voter restarted inside a lease it acknowledged cannot help elect another leader (the start-up fence)', (t) => {
  const fenced = restartInsideLease(true);
  t.is(fenced.written, 0, 'node 2 ignored node 3: no new leader while node 1 holds its lease');
  t.is(fenced.served.length, 1, 'node 1 answers from its lease, and nothing newer exists');
  // Without the fence the same schedule elects node 3, commits a write, and node 1 answers a
  // read from its lease at an index before that write: a stale read.
  const unfenced = restartInsideLease(false);
  t.true(unfenced.written > 0);
  t.true(unfenced.served.length === 1 && unfenced.served[0] < unfenced.written);
});

test('the start-up fence: a voter ignores vote requests for an election timeout after it started', (t) => {
  const storage = MemoryStorage.withVoters([1, 2, 3]);
  const node = new RawNode({ id: 2, storage, random: mulberry32(2), electionTimeoutTicks: ELECTION_TICKS, heartbeatTimeoutTicks: 1, startupVoteFence: true });
  const vote = { type: MessageType.Vote, to: 2, from: 3, term: 5, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
  node.step({ ...vote });
  t.is(node.term, 0, 'fenced: ignored');
  for (let i = 0; i < ELECTION_TICKS; i++) node.tick();
  node.step({ ...vote });
  t.is(node.term, 5);
  t.deepEqual(node.ready().messages.map((m) => [m.type, m.reject]), [[MessageType.VoteResp, false]]);
});

test('LeaderLease: a quorum of fresh acknowledgements, by send time; old rounds do not extend it', (t) => {
  let now = 0;
  const lease = new LeaderLease(100, () => now);
  const voters = new Set([1, 2, 3, 4, 5]);
  const first = lease.sent();
  t.false(lease.held(voters, 1, 3), 'nothing acknowledged');
  lease.acked(2, first);
  t.false(lease.held(voters, 1, 3), 'self and one: not a quorum of five');
  lease.acked(3, first);
  t.true(lease.held(voters, 1, 3));
  now = 99;
  t.true(lease.held(voters, 1, 3));
  now = 100;
  t.false(lease.held(voters, 1, 3), 'measured from the send time, not the answer');
  // An answer to a round too old to be remembered does not count.
  const old = lease.sent();
  for (let i = 0; i < ROUNDS_MAX; i++) lease.sent();
  lease.acked(2, old);
  lease.acked(3, old);
  t.false(lease.held(voters, 1, 3));
  lease.revoke();
  const fresh = lease.sent();
  lease.acked(2, fresh);
  lease.acked(3, fresh);
  t.false(lease.held(voters, 1, 3), 'revoked');
  lease.reset();
  t.false(new LeaderLease(0, () => now).enabled);
});

test('config: lease reads need checkQuorum', (t) => {
  t.throws(() => new RawNode({ id: 1, storage: MemoryStorage.withVoters([1]), random: mulberry32(1), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1, leaseReadMs: 50, checkQuorum: false }), { message: /need checkQuorum/ });
});
