/** How a follower handles messages (etcd's stepFollower). */
import { invariant } from './assert';
import type { Raft, StepResult } from './raft';
import { type Message, MessageType, NONE } from './types';

export function stepFollower(r: Raft, m: Message): StepResult {
  switch (m.type) {
    case MessageType.Prop:
    case MessageType.TransferLeader:
    case MessageType.ReadIndex:
      // Forwarded to the leader; without one the request is dropped and the caller retries.
      if (r.lead === NONE) return 'dropped';
      r.send({ ...m, to: r.lead, term: 0 });
      return 'ok';
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      invariant(r.lead === NONE || r.lead === m.from, () => `two leaders in term ${r.term}: ${r.lead} and ${m.from}`);
      r.electionElapsed = 0;
      r.lead = m.from;
      if (m.type === MessageType.App) r.handleAppendEntries(m);
      else if (m.type === MessageType.Heartbeat) r.handleHeartbeat(m);
      else r.handleSnapshot(m);
      return 'ok';
    case MessageType.TimeoutNow:
      // The leader asks us to take over: campaign at once, bypassing PreVote and the lease.
      r.hup(true);
      return 'ok';
    case MessageType.ReadIndexResp:
      if (m.entries.length === 1) r.readStates.push({ index: m.index, requestCtx: m.entries[0].data });
      return 'ok';
    default:
      return 'ok';
  }
}
