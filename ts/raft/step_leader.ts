/** How a leader handles messages (etcd's stepLeader). */
import { invariant } from './assert';
import { ProgressState } from './progress';
import type { Raft, StepResult } from './raft';
import { confirmReads, stepReadIndex } from './read_index';
import { EntryType, type Message, MessageType, NONE, StateType } from './types';

export function stepLeader(r: Raft, m: Message): StepResult {
  switch (m.type) {
    case MessageType.Beat:
      r.bcastHeartbeat();
      return 'ok';
    case MessageType.CheckQuorum:
      if (!r.prs.quorumActive(r.id)) r.becomeFollower(r.term, NONE);
      for (const [id, pr] of r.prs.progress) if (id !== r.id) pr.recentActive = false;
      return 'ok';
    case MessageType.Prop:
      return propose(r, m);
    case MessageType.ReadIndex:
      return stepReadIndex(r, m);
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      invariant(m.from === r.id, () => `two leaders in term ${r.term}: ${r.id} and ${m.from}`);
      return 'ok';
  }
  const pr = r.prs.progress.get(m.from);
  if (!pr) return 'ok';
  switch (m.type) {
    case MessageType.AppResp:
      pr.recentActive = true;
      if (m.reject) handleAppendRejection(r, m);
      else handleAppendAck(r, m);
      break;
    case MessageType.HeartbeatResp:
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      if (pr.match < r.log.lastIndex() || pr.state === ProgressState.Probe) {
        // A full window whose appends were all lost would stay paused forever: probe past it
        // with an empty append at next-1 (accepted → acks free the window; rejected → probe).
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) r.sendEmptyAppend(m.from);
        else r.sendAppend(m.from);
      }
      r.lease.acked(m.from, m.index);
      if (m.context && m.context.length > 0) confirmReads(r, m.from, m.context);
      break;
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) break;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for a heartbeat response (or MsgAppResp) before probing again.
      pr.msgAppFlowPaused = true;
      break;
    case MessageType.Unreachable:
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      break;
    case MessageType.TransferLeader:
      transferLeader(r, m.from);
      break;
  }
  return 'ok';
}

function propose(r: Raft, m: Message): StepResult {
  invariant(m.entries.length > 0, 'stepped an empty MsgProp');
  // A leader removed from the configuration, or one handing over leadership, takes no proposals.
  if (!r.prs.progress.has(r.id) || r.leadTransferee !== NONE) return 'dropped';
  for (let i = 0; i < m.entries.length; i++) {
    if (m.entries[i].type !== EntryType.ConfChange) continue;
    if (r.pendingConfIndex > r.log.applied) {
      // One uncommitted (unapplied) change at a time: refuse by turning it into a no-op.
      m.entries[i] = { index: 0, term: 0, type: EntryType.Normal, data: new Uint8Array() };
    } else {
      r.pendingConfIndex = r.log.lastIndex() + i + 1;
    }
  }
  if (!r.appendEntry(m.entries)) return 'dropped';
  r.bcastAppend();
  return 'ok';
}

function handleAppendRejection(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  let nextProbeIdx = m.rejectHint;
  if (m.logTerm > 0) {
    // Skip all our entries of terms the follower cannot have (fast backtracking).
    nextProbeIdx = r.log.findConflictByTerm(m.rejectHint, m.logTerm);
  }
  if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

function handleAppendAck(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  const oldPaused = pr.isPaused();
  const updated = pr.maybeUpdate(m.index);
  if (!updated && !(pr.match === m.index && pr.state === ProgressState.Probe)) return;
  if (pr.state === ProgressState.Probe) {
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.log.firstIndex()) {
    // The follower caught up from the snapshot: resume normal replication.
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Replicate) {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) {
    r.onCommitAdvanced();
  } else if (oldPaused) {
    r.sendAppend(m.from);
  }
  // Pipelining: keep sending while the window allows.
  while (r.maybeSendAppend(m.from, false)) {
    // loop
  }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) r.sendTimeoutNow(m.from);
}

function transferLeader(r: Raft, transferee: number): void {
  const pr = r.prs.progress.get(transferee);
  // Not a member (a forwarded request may name anything), a learner, or ourselves: ignore.
  if (!pr || pr.isLearner || transferee === r.id) return;
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === transferee) return; // already transferring to it
    r.abortLeaderTransfer();
  }
  invariant(r.state === StateType.Leader, 'only a leader transfers leadership');
  // The transfer must finish within an election timeout (see tickHeartbeat).
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.log.lastIndex()) r.sendTimeoutNow(transferee);
  else r.sendAppend(transferee);
}
