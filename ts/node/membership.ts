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
 *   conf change = type u8 | nodeId u32 | origin u32 | seq u64 | peer (u16 + utf8) | client (u16 + utf8)
 */
import { QuorumError } from '../errors';
import { type ConfChange, ConfChangeType, type ConfState } from '../raft/types';

/** Keys starting with NUL are the store's own; the API refuses them. */
export const RESERVED_KEY_PREFIX = '\u0000';
export const MEMBERS_KEY = `${RESERVED_KEY_PREFIX}members`;
/** Every reserved key sorts at or before this one (scans of user keys start after it). */
export const RESERVED_KEYS_END = `${RESERVED_KEY_PREFIX}\uffff`;

export interface MemberAddresses {
  /** host:port of the member's peer listener. */
  peer?: string;
  /** host:port of the member's client API. */
  client?: string;
}

export interface MembersRecord {
  /** Index of the last membership change applied (0: none since bootstrap). */
  confIndex: number;
  voters: number[];
  learners: number[];
  addresses: Record<string, MemberAddresses>;
}

export interface MemberChange {
  type: ConfChangeType;
  nodeId: number;
  origin: number;
  seq: number;
  peer: string;
  client: string;
}

const TYPE_CODES: Record<ConfChangeType, number> = {
  [ConfChangeType.AddNode]: 1,
  [ConfChangeType.AddLearnerNode]: 2,
  [ConfChangeType.RemoveNode]: 3,
};
const CODE_TYPES = new Map(Object.entries(TYPE_CODES).map(([t, c]) => [c, t as ConfChangeType]));

export function encodeMemberChange(c: MemberChange): Buffer {
  const peer = Buffer.from(c.peer, 'utf8');
  const client = Buffer.from(c.client, 'utf8');
  const buf = Buffer.allocUnsafe(1 + 4 + 4 + 8 + 2 + peer.length + 2 + client.length);
  let at = buf.writeUInt8(TYPE_CODES[c.type], 0);
  at = buf.writeUInt32LE(c.nodeId, at);
  at = buf.writeUInt32LE(c.origin, at);
  at = buf.writeUInt32LE(c.seq % 2 ** 32, at);
  at = buf.writeUInt32LE(Math.floor(c.seq / 2 ** 32), at);
  at = buf.writeUInt16LE(peer.length, at);
  at += peer.copy(buf, at);
  at = buf.writeUInt16LE(client.length, at);
  client.copy(buf, at);
  return buf;
}

export function decodeMemberChange(data: Uint8Array): MemberChange {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (): never => {
    throw new QuorumError('COMMAND_INVALID', `malformed membership change (${buf.length} bytes)`);
  };
  if (buf.length < 21) fail();
  const type = CODE_TYPES.get(buf.readUInt8(0)) ?? fail();
  const nodeId = buf.readUInt32LE(1);
  const origin = buf.readUInt32LE(5);
  const seq = buf.readUInt32LE(9) + buf.readUInt32LE(13) * 2 ** 32;
  let at = 17;
  const str = (): string => {
    if (at + 2 > buf.length) fail();
    const n = buf.readUInt16LE(at);
    if (at + 2 + n > buf.length) fail();
    const s = buf.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  const peer = str();
  const client = str();
  if (at !== buf.length) fail();
  return { type, nodeId, origin, seq, peer, client };
}

export function toConfChange(c: MemberChange): ConfChange {
  return { type: c.type, nodeId: c.nodeId };
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
      voters.delete(id);
      learners.delete(id);
      delete addresses[String(id)];
      break;
  }
  if (change.type !== ConfChangeType.RemoveNode && (change.peer || change.client)) {
    const prev = addresses[String(id)] ?? {};
    addresses[String(id)] = { peer: change.peer || prev.peer, client: change.client || prev.client };
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { confIndex: index, voters: sorted(voters), learners: sorted(learners), addresses };
}

/** The record with member `id`'s client address set (what `Op.Publish` does). */
export function publishClient(rec: MembersRecord, id: number, client: string, index: number): MembersRecord {
  if (!isMember(rec, id)) return rec;
  const prev = rec.addresses[String(id)] ?? {};
  return { ...rec, addresses: { ...rec.addresses, [String(id)]: { ...prev, client } }, confIndex: rec.confIndex };
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
