/**
 * A follower's ReadIndex round that gets no answer (its request or the leader's answer was lost
 * while a peer connection was down) is asked again with the same context, and its reads are
 * served when an answer comes; rounds whose reads all ended are dropped, not asked forever.
 */
import test from 'ava';
import type { Applier } from '../../ts/node/applier';
import { READ_RETRY_MS, ReadRounds } from '../../ts/node/read_rounds';
import { RequestWaiters } from '../../ts/node/waiters';
import type { RawNode } from '../../ts/raft/rawnode';

function setup(leader = false, requestTimeoutMs = 5000) {
  const asked: string[] = [];
  const raw = { isLeader: leader, readIndex: (ctx: Uint8Array) => asked.push(Buffer.from(ctx).toString()) } as unknown as RawNode;
  const applier = { waitFor: () => Promise.resolve() } as unknown as Applier;
  const waiters = new RequestWaiters({ requestTimeoutMs, proposalsPendingMax: 10, readsPendingMax: 10 });
  const rounds = new ReadRounds(7, raw, waiters, applier, () => undefined);
  return { asked, waiters, rounds };
}

test('an unanswered round is asked again after READ_RETRY_MS with its context; the answer serves its reads once', async (t) => {
  const { asked, waiters, rounds } = setup();
  const read = waiters.read();
  rounds.flush();
  t.deepEqual(asked, ['7:1']);
  const sentAt = performance.now();
  rounds.retry(sentAt + READ_RETRY_MS / 2);
  t.deepEqual(asked, ['7:1'], 'not yet');
  rounds.retry(sentAt + READ_RETRY_MS + 1);
  t.deepEqual(asked, ['7:1', '7:1'], 'the same context again');
  rounds.retry(sentAt + READ_RETRY_MS + 2);
  t.is(asked.length, 2, 'then not again before another interval');
  const ctx = new TextEncoder().encode('7:1');
  rounds.release([{ index: 3, requestCtx: ctx }]);
  await read;
  rounds.release([{ index: 3, requestCtx: ctx }]); // the second answer (to the second ask) finds nothing
  rounds.retry(sentAt + 10 * READ_RETRY_MS);
  t.is(asked.length, 2, 'an answered round is not asked again');
  t.is(waiters.readCount, 0);
});

test('a leader asks nothing again (its heartbeats carry the pending context)', (t) => {
  const { asked, waiters, rounds } = setup(true);
  void waiters.read().catch(() => undefined);
  rounds.flush();
  rounds.retry(performance.now() + 10 * READ_RETRY_MS);
  t.deepEqual(asked, ['7:1']);
  waiters.failReads(() => new Error('end'));
});

test('a round whose reads all timed out is dropped, not asked again', async (t) => {
  const { asked, waiters, rounds } = setup(false, 1);
  const read = waiters.read();
  rounds.flush();
  await t.throwsAsync(read, { message: /not confirmed in time/ });
  rounds.retry(performance.now() + 10 * READ_RETRY_MS);
  t.deepEqual(asked, ['7:1']);
});

test('a late report of the leader the rounds went to fails none of them; another leader or term fails theirs', async (t) => {
  const asked: string[] = [];
  const raw = { isLeader: false, lead: 2, term: 5, readIndex: (ctx: Uint8Array) => asked.push(Buffer.from(ctx).toString()) };
  const waiters = new RequestWaiters({ requestTimeoutMs: 5000, proposalsPendingMax: 10, readsPendingMax: 10 });
  const rounds = new ReadRounds(7, raw as unknown as RawNode, waiters, { waitFor: () => Promise.resolve() } as unknown as Applier, () => undefined);
  const failed = (read: Promise<void>) => read.then(() => 'served', (err: Error) => err.message);
  const first = failed(waiters.read());
  rounds.flush();
  const changed = () => new Error('leader changed');
  // The soft state naming leader 2 in term 5 is reported after the round went to it.
  waiters.failSentReads(changed, { lead: 2, term: 5 });
  t.is(waiters.readCount, 1, 'the round sent to that leader waits on');
  raw.lead = 3;
  raw.term = 6;
  const second = failed(waiters.read());
  rounds.flush();
  waiters.failSentReads(changed, { lead: 3, term: 6 });
  t.is(await first, 'leader changed', 'the round sent to the old leader is failed');
  t.is(waiters.readCount, 1);
  waiters.failSentReads(changed);
  t.is(await second, 'leader changed', 'no leader: every round is failed');
  t.deepEqual(asked, ['7:1', '7:2']);
});
