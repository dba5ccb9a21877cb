/**
 * The driver's membership bookkeeping (no I/O): the configuration as the Raft core has it, the
 * configurations since the last snapshot (a snapshot's metadata needs the one in force at its
 * index), where members are reached, and removed followers still owed the commit index.
 *
 * Invariant: `members` is the configuration after every conf change at or below `confIndex`,
 * and the core's configuration is the same; a change at or below `confIndex` handed out again
 * (a replay after restart) is already in it.
 */
import { type ConfState, type Entry, EntryType } from '../raft/types';
import { type PeerAddress, parsePeerAddress } from '../transport/peer';
import { applyMemberChange, confStateOf, decodeMemberChange, type MemberChange, type MembersRecord, type Removal } from './membership';

interface Farewell {
  address: PeerAddress;
  /** How much of the log the removed follower held: its commit index may not pass it. */
  match: number;
  untilTick: number;
}

export class ConfTracker {
  private members: MembersRecord;
  private confIndex: number;
  private history: { index: number; conf: ConfState }[];
  private readonly farewells = new Map<number, Farewell>();
  /** Removed nodes still talking to us, told of their removal until a tick (see `notice`). */
  private readonly notices = new Map<number, { address: PeerAddress; untilTick: number }>();

  constructor(
    start: MembersRecord,
    private readonly self: number,
    /** Addresses known locally (`--cluster`, a joiner's list): they win over the record's. */
    private readonly local: ReadonlyMap<number, PeerAddress>,
  ) {
    this.members = start;
    this.confIndex = start.confIndex;
    this.history = [{ index: 0, conf: confStateOf(start) }];
  }

  get current(): MembersRecord {
    return this.members;
  }

  /** The membership change in `e`, unless `e` is none or already in the configuration. */
  changeIn(e: Entry): MemberChange | undefined {
    if (e.type !== EntryType.ConfChange || e.index <= this.confIndex || e.data.length === 0) return undefined;
    return decodeMemberChange(e.data);
  }

  /** `change` (at `index`) took effect in the core. */
  record(change: MemberChange, index: number): void {
    this.members = applyMemberChange(this.members, change, index);
    this.confIndex = index;
    this.history.push({ index, conf: confStateOf(this.members) });
  }

  /** A snapshot at `index` replaced everything; `members` is the record it carries. */
  reset(members: MembersRecord, index: number, conf: ConfState): void {
    this.members = members;
    this.confIndex = Math.max(index, members.confIndex);
    this.history = [{ index, conf: structuredClone(conf) }];
  }

  /** The configuration in force after applying through `index` (not before the last snapshot). */
  confAt(index: number): ConfState {
    let conf = this.history[0].conf;
    for (const h of this.history) if (h.index <= index) conf = h.conf;
    return structuredClone(conf);
  }

  /** Configurations older than the snapshot at `newest` are never asked for again. */
  prune(newest: number): void {
    while (this.history.length > 1 && this.history[1].index <= newest) this.history.shift();
  }

  /** Where each member (and each removed follower still owed a farewell) is reached. */
  peerAddresses(): Map<number, PeerAddress> {
    const out = new Map<number, PeerAddress>();
    const self = this.local.get(this.self);
    if (self) out.set(this.self, self);
    const ids = [...this.members.voters, ...this.members.learners];
    // A joining node knows no configuration until its snapshot arrives, but must answer the
    // leader: it reaches everyone it was told about.
    if (ids.length === 0) ids.push(...this.local.keys());
    for (const id of ids) {
      const recorded = this.members.addresses[String(id)]?.peer;
      const address = this.local.get(id) ?? (recorded ? parsePeerAddress(recorded) : undefined);
      if (address) out.set(id, address);
    }
    for (const [id, f] of this.farewells) if (!out.has(id)) out.set(id, f.address);
    for (const [id, n] of this.notices) if (!out.has(id)) out.set(id, n.address);
    return out;
  }

  /** Where `id` was removed, if it is not a member now and its removal is remembered. */
  removalOf(id: number): Removal | undefined {
    if (id === this.self || this.members.voters.includes(id) || this.members.learners.includes(id)) return undefined;
    return this.members.removed?.[String(id)];
  }

  /**
   * A removed node sent us a message: it never learned of its removal (it lagged, or was down).
   * Keep it reachable until `untilTick` so it can be told. False when it cannot be reached (no
   * address known) or is already being told.
   */
  notice(id: number, removal: Removal, untilTick: number): boolean {
    const existing = this.notices.get(id);
    if (existing) {
      existing.untilTick = untilTick;
      return false;
    }
    const address = this.local.get(id) ?? (removal.peer ? parsePeerAddress(removal.peer) : undefined);
    if (!address) return false;
    this.notices.set(id, { address, untilTick });
    return true;
  }

  /** Drops notices past their tick; true when some were dropped (the peer set then shrinks). */
  expireNotices(tick: number): boolean {
    let expired = false;
    for (const [id, n] of this.notices) {
      if (tick > n.untilTick || !this.removalOf(id)) {
        this.notices.delete(id);
        expired = true;
      }
    }
    return expired;
  }

  /**
   * A removed follower will hear nothing more from the leader: keep telling it the commit index
   * until `untilTick` so it can apply its own removal and stop. (One that never learns just
   * stays idle: PreVote and CheckQuorum keep it from disrupting the cluster.)
   */
  farewell(id: number, match: number, untilTick: number): void {
    const address = this.peerAddresses().get(id);
    if (address) this.farewells.set(id, { address, match, untilTick });
  }

  /**
   * The farewells due at `tick`: the ones still owed, with the commit index each may be sent.
   * `expired` is true when some were dropped (the peer set then shrinks).
   */
  farewellsDue(tick: number, stillOwed: (id: number) => boolean): { due: { id: number; match: number }[]; expired: boolean } {
    const due: { id: number; match: number }[] = [];
    let expired = false;
    for (const [id, f] of this.farewells) {
      if (tick > f.untilTick || !stillOwed(id)) {
        this.farewells.delete(id);
        expired = true;
      } else {
        due.push({ id, match: f.match });
      }
    }
    return { due, expired };
  }

  get owesFarewells(): boolean {
    return this.farewells.size > 0;
  }
}
