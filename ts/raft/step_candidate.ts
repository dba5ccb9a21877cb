/** How a (pre-)candidate handles messages (etcd's stepCandidate). */
import type { Raft, StepResult } from './raft';
import { VoteResult } from './tracker';
import { CampaignType, type Message, MessageType, NONE, StateType } from './types';

export function stepCandidate(r: Raft, m: Message): StepResult {
  // Only responses to the kind of vote we asked for count (PreVote vs Vote).
  const myVoteResp = r.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      return 'dropped';
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // A leader of our term exists (m.term === term here; higher terms were handled in step).
      r.becomeFollower(m.term, m.from);
      if (m.type === MessageType.App) r.handleAppendEntries(m);
      else if (m.type === MessageType.Heartbeat) r.handleHeartbeat(m);
      else r.handleSnapshot(m);
      return 'ok';
    case myVoteResp: {
      const result = r.poll(m.from, m.type, !m.reject);
      if (result === VoteResult.Won) {
        if (r.state === StateType.PreCandidate) {
          r.campaign(CampaignType.Election);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.Lost) {
        // PreVoteResp carries a future term; stay in ours.
        r.becomeFollower(r.term, NONE);
      }
      return 'ok';
    }
    default:
      return 'ok';
  }
}
