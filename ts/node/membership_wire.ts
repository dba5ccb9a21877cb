/**
 * Membership as it reaches the core and the wire: committed conf changes taking effect in the
 * core (with a farewell owed to a removed follower), farewells sent by the leader, and
 * `MsgRemoved` notices to nodes the membership record says were removed. The driver calls these
 * from its Ready loop and tick; `ConfTracker` keeps the state they read and change.
 */
import type { RawNode } from '../raft/rawnode';
import { ConfChangeType, type Entry, type Message, message, MessageType } from '../raft/types';
import type { PeerTransport } from '../transport/peer';
import { REMOVAL_NOTICE_ELECTIONS } from './config';
import type { ConfTracker } from './conf_tracker';
import { toConfChange } from './membership';

export class MembershipWire {
  constructor(
    private readonly id: number,
    private readonly raw: RawNode,
    private readonly conf: ConfTracker,
    private readonly transport: PeerTransport,
    private readonly ticks: { electionTimeoutTicks: number; heartbeatTimeoutTicks: number },
  ) {}

  /**
   * Committed conf changes take effect in the core as they are handed out for applying (the
   * core refuses a second change until then). Changes already in the configuration the core
   * started from (a replay after restart) are skipped.
   */
  applyConfChanges(entries: readonly Entry[], tick: number): void {
    for (const e of entries) {
      const change = this.conf.changeIn(e);
      if (!change) continue;
      if (change.type === ConfChangeType.RemoveNode && change.nodeId !== this.id) {
        const leaving = this.raw.status().progress.get(change.nodeId);
        if (leaving) this.conf.farewell(change.nodeId, leaving.match, tick + 4 * this.ticks.electionTimeoutTicks);
      }
      this.raw.applyConfChange(toConfChange(change));
      this.conf.record(change, e.index);
      this.transport.setPeers(this.conf.peerAddresses());
    }
  }

  /** Leader: the commit index to removed followers (as far as each holds the log). */
  sendFarewells(tick: number): void {
    if (!this.conf.owesFarewells) return;
    const leader = this.raw.isLeader;
    const { due, expired } = this.conf.farewellsDue(tick, (id) => leader && !this.raw.tracks(id));
    if (expired) this.transport.setPeers(this.conf.peerAddresses());
    if (tick % this.ticks.heartbeatTimeoutTicks !== 0 || due.length === 0) return;
    const term = this.raw.status().term;
    const commit = this.raw.committed;
    this.transport.send(due.map((f) => message({ type: MessageType.Heartbeat, to: f.id, from: this.id, term, commit: Math.min(f.match, commit) })));
  }

  /**
   * `m` comes from a node our record says was removed: tell it (MsgRemoved with the removal's
   * index) instead of stepping the message. True when `m` was handled so.
   */
  noticeRemoved(m: Message, tick: number): boolean {
    const removal = this.conf.removalOf(m.from);
    if (!removal) return false;
    if (this.conf.notice(m.from, removal, tick + REMOVAL_NOTICE_ELECTIONS * this.ticks.electionTimeoutTicks)) this.transport.setPeers(this.conf.peerAddresses());
    this.transport.send([message({ type: MessageType.Removed, to: m.from, from: this.id, term: m.term, index: removal.index })]);
    return true;
  }
}
