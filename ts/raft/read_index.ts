/**
 * A leader's side of linearizable reads (etcd's ReadIndex, the Raft dissertation's §6.4): a read
 * is answered at the leader's commit index once leadership is confirmed — by a heartbeat round
 * that a quorum answers (batched: one round for every read queued until the driver next takes
 * output), or at once while the leader holds its lease (lease.ts, when enabled), or at once when
 * it is the only voter. A new leader first commits an entry of its term (until then it may not
 * know the latest commit index): reads arriving before that wait, bounded by readIndexPendingMax.
 */
import type { Raft, StepResult } from './raft';
import { type Message, MessageType, NONE, StateType, message } from './types';

/** A ReadIndex request stepped into the leader. */
export function stepReadIndex(r: Raft, m: Message): StepResult {
  if (!r.committedEntryInCurrentTerm()) {
    if (r.pendingReadIndexMessages.length >= r.cfg.readIndexPendingMax) return 'dropped';
    r.pendingReadIndexMessages.push(m);
    return 'ok';
  }
  if (r.readOnly.full()) return 'dropped';
  serveReadIndex(r, m);
  return 'ok';
}

/** Reads that waited for this leader's first commit: served now, if it happened. */
export function releasePendingReadIndex(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return;
  const pending = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of pending) serveReadIndex(r, m);
}

function serveReadIndex(r: Raft, m: Message): void {
  if (r.prs.isSingleton() || leaseHeld(r)) {
    respondToReadIndex(r, m, r.log.committed);
    return;
  }
  const ctx = m.entries[0].data;
  r.readOnly.addRequest(r.log.committed, m);
  r.readOnly.recvAck(r.id, ctx);
  // Batched: one heartbeat round, sent when the driver next takes output, confirms every read
  // queued until then (the round carries the newest context).
  r.readIndexRoundPending = true;
}

function leaseHeld(r: Raft): boolean {
  return r.leadTransferee === NONE && r.lease.held(r.prs.voters, r.id, r.prs.quorum());
}

/** Every this-many-th read round goes to every member, the others to just enough voters. */
export const READ_ROUND_ALL_EVERY = 32;

/**
 * Sends the heartbeat round for reads queued since the last one (called by RawNode).
 *
 * A round needs answers from a quorum only, so it goes to just enough voters to make one with
 * this leader: those that answered recent rounds while their quorum was still incomplete (the
 * quickest, `Progress.readAckRound`). The others are not woken for it (on a 3-node cluster: one
 * heartbeat per round instead of two; each costs the leader a write and its follower a wake-up).
 * Every READ_ROUND_ALL_EVERY-th round, and every round until enough voters have answered one
 * this term, goes to every member, so a quicker voter takes over from a slower one. Liveness: a
 * round whose chosen voter died is confirmed by the periodic heartbeat, which goes to every
 * member with the newest pending context (at most one heartbeat interval later); whoever answers
 * it is asked first from then on.
 */
export function flushReadIndexRound(r: Raft): void {
  if (!r.readIndexRoundPending) return;
  r.readIndexRoundPending = false;
  const ctx = r.readOnly.lastPendingRequestCtx();
  if (r.state !== StateType.Leader || ctx === undefined) return;
  const round = ++r.readRoundsSent;
  r.bcastHeartbeatWithCtx(ctx, round % READ_ROUND_ALL_EVERY === 0 ? undefined : readQuorumPeers(r));
}

/** The voters a round needs besides this leader, quickest first; undefined: ask every member. */
function readQuorumPeers(r: Raft): number[] | undefined {
  const stamp = (id: number) => r.prs.progress.get(id)?.readAckRound ?? 0;
  const peers = [...r.prs.voters].filter((id) => id !== r.id);
  // A leader that is not a voter (removing itself) does not count toward the quorum.
  const needed = r.prs.quorum() - (r.prs.voters.has(r.id) ? 1 : 0);
  const chosen = peers.sort((a, b) => stamp(b) - stamp(a) || a - b).slice(0, needed);
  return chosen.length === needed && chosen.every((id) => stamp(id) > 0) ? chosen : undefined;
}

/** A heartbeat answer from `from` carrying read context `ctx`: reads a quorum confirmed are answered. */
export function confirmReads(r: Raft, from: number, ctx: Uint8Array): void {
  if (r.prs.isSingleton()) return;
  const acks = r.readOnly.recvAck(from, ctx);
  if (!acks) return;
  // An answer to a round still short of its quorum: `from` is among the quickest.
  const pr = r.prs.progress.get(from);
  if (pr && r.prs.voters.has(from)) pr.readAckRound = r.readRoundsSent;
  if (!r.prs.hasQuorum(acks)) return;
  for (const status of r.readOnly.advance(ctx)) respondToReadIndex(r, status.req, status.index);
}

function respondToReadIndex(r: Raft, req: Message, index: number): void {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index, requestCtx: req.entries[0].data });
  } else {
    r.send(message({ type: MessageType.ReadIndexResp, to: req.from, from: r.id, index, entries: req.entries }));
  }
}
