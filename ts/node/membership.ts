/**
 * Cluster membership as the state machine keeps it. A membership change travels as a Raft
 * ConfChange entry (binary, below) carrying the member's addresses and the proposer's
 * origin/seq; applying it updates the `MembersRecord`, which the applier writes under the
 * reserved key `MEMBERS_KEY` in the same WriteBatch as the data and the applied index. So the
 * record always describes the configuration at the engine's applied index — which is what a
 * restarting node hands the Raft core, and what a snapshot (a checkpoint) carries to a new node.
 *
 * Addresses: the record holds the addresses given when members were added through the API.
 * The members a cluster was bootstrapped with are reached through each node's own `--cluster`
 * map (or the list a joining node fetched), which takes precedence: it is local routing, e.g.
 * the chaos suite's per-link proxies.
 *
 * The record also remembers the last `REMOVED_REMEMBERED_MAX` removals (id → index and peer
 * address), so any member can tell a removed node that still talks to it that it was removed —
 * the same on every replica, across restarts and snapshots (see `removal_notices.ts`).
 *
 *   conf change = version u8 (1) | type u8 | nodeId u32 | origin u32 | seq u64
 *                 | peer (u16 + utf8) | client (u16 + utf8)
 */
import { QuorumError } from '../errors';
import { type ConfChange, ConfChangeType, type ConfState } from '../raft/types';
import { BinaryReader, BinaryWriter } from '../binary';
import { formatPeerAddress, type PeerAddress } from '../transport/peer';

/** Keys starting with NUL are the store's own; the API refuses them. */
export const RESERVED_KEY_PREFIX = '\u0000';
export const MEMBERS_KEY = `${RESERVED_KEY_PREFIX}members`;
/** Every reserved key sorts at or before this one (scans of user keys start after it). */
export const RESERVED_KEYS_END = `${RESERVED_KEY_PREFIX}\uffff`;

export const MEMBER_CHANGE_VERSION = 1;
/** Removals remembered in the record (the oldest is forgotten first). */
export const REMOVED_REMEMBERED_MAX = 1024;

export interface MemberAddresses {
  /** host:port of the member's peer listener. */
  peer?: string;
  /** host:port of the member's client API. */
  client?: string;
}

export interface Removal {
  index: number;
  peer?: string;
}

export interface MembersRecord {
  /** Index of the last membership change applied (0: none since bootstrap). */
  confIndex: number;
  voters: number[];
  learners: number[];
  addresses: Record<string, MemberAddresses>;
  /** Removed ids (not members now) → where they were removed; absent in older records. */
  removed?: Record<string, Removal>;
  /** Members whose disk is below its reserve (space_guard.ts), by id; absent: none. */
  alarms?: Record<string, SpaceAlarm>;
}

/** A member's raised disk-space alarm: what it measured, and the entry that raised it. */
export interface SpaceAlarm {
  freeBytes: number;
  reserveBytes: number;
  index: number;
}

export interface MemberChange {
  type: ConfChangeType;
  nodeId: number;
  origin: number;
  seq: number;
  peer: string;
  client: string;
}

/** What an operator asks for; `checkMemberChange` turns it into one single-server change. */
export type MemberIntent = 'add-voter' | 'add-learner' | 'promote' | 'remove';

const TYPE_CODES: Record<ConfChangeType, number> = {
  [ConfChangeType.AddNode]: 1,
  [ConfChangeType.AddLearnerNode]: 2,
  [ConfChangeType.RemoveNode]: 3,
};
const CODE_TYPES = new Map(Object.entries(TYPE_CODES).map(([t, c]) => [c, t as ConfChangeType]));

export function encodeMemberChange(c: MemberChange): Buffer {
  const w = new BinaryWriter(64);
  w.u8(MEMBER_CHANGE_VERSION);
  w.u8(TYPE_CODES[c.type]);
  w.u32(c.nodeId);
  w.u32(c.origin);
  w.u64(c.seq);
  w.str16(c.peer);
  w.str16(c.client);
  return w.finish();
}

export function decodeMemberChange(data: Uint8Array): MemberChange {
  const r = new BinaryReader(data, (what) => new QuorumError('COMMAND_INVALID', `malformed membership change: ${what}`));
  const version = r.u8('version');
  if (version !== MEMBER_CHANGE_VERSION) throw new QuorumError('COMMAND_VERSION_UNSUPPORTED', `membership change version ${version}; this build reads version ${MEMBER_CHANGE_VERSION}`);
  const code = r.u8('type');
  const type = CODE_TYPES.get(code);
  if (type === undefined) throw new QuorumError('COMMAND_INVALID', `malformed membership change: unknown type ${code}`);
  const change = { type, nodeId: r.u32('node id'), origin: r.u32('origin'), seq: r.u64('seq'), peer: r.str16('peer'), client: r.str16('client') };
  r.end();
  return change;
}

export function toConfChange(c: MemberChange): ConfChange {
  return { type: c.type, nodeId: c.nodeId };
}

/**
 * The one place membership requests are checked: the change `intent` asks for, given the
 * membership `rec`, or the catalogued error saying why it would change nothing or break the
 * cluster.
 */
export function checkMemberChange(rec: MembersRecord, intent: MemberIntent, id: number, peer?: string): ConfChangeType {
  const voter = rec.voters.includes(id);
  const learner = rec.learners.includes(id);
  switch (intent) {
    case 'add-voter':
    case 'add-learner':
      if (voter || learner) throw new QuorumError('member_exists', `n${id} is already a ${voter ? 'voter' : 'learner (promote it instead)'}`);
      if (!peer) throw new QuorumError('invalid_body', 'a new member needs its peer address');
      return intent === 'add-voter' ? ConfChangeType.AddNode : ConfChangeType.AddLearnerNode;
    case 'promote':
      if (voter) throw new QuorumError('not_learner', `n${id} is already a voter`);
      if (!learner) throw new QuorumError('unknown_member', `n${id} is not a member`);
      return ConfChangeType.AddNode;
    case 'remove':
      if (!voter && !learner) throw new QuorumError('unknown_member', `n${id} is not a member`);
      if (voter && rec.voters.length === 1) throw new QuorumError('last_voter', `n${id} is the only voter; the cluster cannot lose it`);
      return ConfChangeType.RemoveNode;
  }
}

export function initialRecord(conf: ConfState): MembersRecord {
  return { confIndex: 0, voters: [...conf.voters].sort((a, b) => a - b), learners: [...conf.learners].sort((a, b) => a - b), addresses: {} };
}

/**
 * The record after `change` at `index` — the same transition the Raft core makes (adding a
 * voter that is a learner promotes it; adding an existing member again changes nothing but its
 * addresses; removing a non-member changes nothing). Pure: every replica computes the same.
 */
export function applyMemberChange(rec: MembersRecord, change: MemberChange, index: number): MembersRecord {
  const voters = new Set(rec.voters);
  const learners = new Set(rec.learners);
  const addresses = { ...rec.addresses };
  const removed = { ...rec.removed };
  const alarms = { ...rec.alarms };
  const id = change.nodeId;
  switch (change.type) {
    case ConfChangeType.AddNode:
      learners.delete(id);
      voters.add(id);
      break;
    case ConfChangeType.AddLearnerNode:
      if (!voters.has(id)) learners.add(id);
      break;
    case ConfChangeType.RemoveNode:
      if (voters.has(id) || learners.has(id)) rememberRemoval(removed, id, { index, peer: addresses[String(id)]?.peer });
      voters.delete(id);
      learners.delete(id);
      delete addresses[String(id)];
      // A removed member's disk no longer holds the cluster's data.
      delete alarms[String(id)];
      break;
  }
  if (change.type !== ConfChangeType.RemoveNode) {
    delete removed[String(id)];
    if (change.peer || change.client) {
      const prev = addresses[String(id)] ?? {};
      addresses[String(id)] = { peer: change.peer || prev.peer, client: change.client || prev.client };
    }
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return withAlarms({ confIndex: index, voters: sorted(voters), learners: sorted(learners), addresses, removed }, alarms);
}

/** `rec` with `alarms`, the field left out when there is none (its presence means one is raised). */
function withAlarms(rec: Omit<MembersRecord, 'alarms'>, alarms: Record<string, SpaceAlarm>): MembersRecord {
  return Object.keys(alarms).length > 0 ? { ...rec, alarms } : rec;
}

function rememberRemoval(removed: Record<string, Removal>, id: number, removal: Removal): void {
  removed[String(id)] = removal;
  const ids = Object.keys(removed);
  if (ids.length <= REMOVED_REMEMBERED_MAX) return;
  const oldest = ids.reduce((a, b) => (removed[a].index <= removed[b].index ? a : b));
  delete removed[oldest];
}

/** The record with member `id`'s client address set (what `Op.Publish` does). */
export function publishClient(rec: MembersRecord, id: number, client: string): MembersRecord {
  if (!isMember(rec, id)) return rec;
  const prev = rec.addresses[String(id)] ?? {};
  return { ...rec, addresses: { ...rec.addresses, [String(id)]: { ...prev, client } } };
}

/**
 * The record after an `Op.Alarm` entry at `index` (`key`: "<id> raise <free> <reserve>" or
 * "<id> clear"; no-op for non-members). Throws on a malformed key (the applier's fatal path).
 */
export function applyAlarm(rec: MembersRecord, key: string, index: number): MembersRecord {
  const [idText, action, freeText, reserveText] = key.split(' ');
  const id = Number(idText);
  const raise = action === 'raise' && freeText !== undefined && reserveText !== undefined;
  if (!Number.isInteger(id) || !(raise || (action === 'clear' && freeText === undefined))) throw new QuorumError('COMMAND_INVALID', `malformed alarm ${JSON.stringify(key)}`);
  if (!isMember(rec, id)) return rec;
  const alarms = { ...rec.alarms };
  if (raise) alarms[idText] = { freeBytes: Number(freeText), reserveBytes: Number(reserveText), index };
  else delete alarms[idText];
  const { alarms: _previous, ...rest } = rec;
  return withAlarms(rest, alarms);
}

export function confStateOf(rec: MembersRecord): ConfState {
  return { voters: [...rec.voters], learners: [...rec.learners] };
}

export function encodeRecord(rec: MembersRecord): Buffer {
  return Buffer.from(JSON.stringify(rec), 'utf8');
}

export function decodeRecord(buf: Buffer): MembersRecord {
  return JSON.parse(buf.toString('utf8')) as MembersRecord;
}

export function isMember(rec: MembersRecord, id: number): boolean {
  return rec.voters.includes(id) || rec.learners.includes(id);
}

export interface MemberListing {
  id: number;
  name: string;
  learner: boolean;
  peer: string | null;
  client: string | null;
}

/**
 * The members of `rec` with their role and addresses, by id. Peer addresses known locally
 * (`local`) win over recorded ones; this node (`self`) reports `selfClient` as its client.
 */
export function listMembers(rec: MembersRecord, local: ReadonlyMap<number, PeerAddress>, self: number, selfClient?: PeerAddress): MemberListing[] {
  const entry = (id: number, learner: boolean): MemberListing => {
    const known = local.get(id);
    const recorded = rec.addresses[String(id)] ?? {};
    const client = id === self && selfClient ? formatPeerAddress(selfClient) : (recorded.client ?? null);
    return { id, name: `n${id}`, learner, peer: known ? formatPeerAddress(known) : (recorded.peer ?? null), client };
  };
  return [...rec.voters.map((id) => entry(id, false)), ...rec.learners.map((id) => entry(id, true))].sort((a, b) => a.id - b.id);
}
