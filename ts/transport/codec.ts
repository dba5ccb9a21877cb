/**
 * The peer wire format: Raft messages in binary, never JSON. One frame carries every message
 * for one peer from one event-loop turn:
 *
 *   frame   = len u32 (bytes after this field) | version u8 | count u32 | message*
 *   message = type u8 | flags u8 | to, from, term, logTerm, index, commit, rejectHint: u64
 *             | entries u32 | entry* | [context] | [snapshot]
 *   entry   = index u64 | term u64 | type u8 | len u32 | data
 *   context = len u32 | data                                   (flags bit 1)
 *   snapshot= index u64 | term u64 | voters u32 | u64* | learners u32 | u64* | len u32 | data
 *                                                              (flags bit 2)
 * Message types travel as the explicit codes of `MESSAGE_TYPE_CODES` — part of the protocol,
 * pinned by a test, never derived from the enum's order. Integers are little-endian; u64 values
 * must be safe JS integers. Decoding checks every length against the frame, so a malformed or
 * truncated frame is an error, never a crash.
 */
import { BinaryReader, BinaryWriter } from '../binary';
import { QuorumError } from '../errors';
import { type Entry, EntryType, type Message, MessageType, type Snapshot } from '../raft/types';

export const WIRE_VERSION = 1;
export const FRAME_HEADER_BYTES = 4;

const FLAG_REJECT = 1;
const FLAG_CONTEXT = 2;
const FLAG_SNAPSHOT = 4;

/** The wire code of each message type. Append new types with new codes; never renumber. */
export const MESSAGE_TYPE_CODES: Readonly<Record<MessageType, number>> = {
  [MessageType.Hup]: 0,
  [MessageType.Beat]: 1,
  [MessageType.Prop]: 2,
  [MessageType.App]: 3,
  [MessageType.AppResp]: 4,
  [MessageType.Vote]: 5,
  [MessageType.VoteResp]: 6,
  [MessageType.PreVote]: 7,
  [MessageType.PreVoteResp]: 8,
  [MessageType.Snap]: 9,
  [MessageType.Heartbeat]: 10,
  [MessageType.HeartbeatResp]: 11,
  [MessageType.Unreachable]: 12,
  [MessageType.SnapStatus]: 13,
  [MessageType.CheckQuorum]: 14,
  [MessageType.TransferLeader]: 15,
  [MessageType.TimeoutNow]: 16,
  [MessageType.ReadIndex]: 17,
  [MessageType.ReadIndexResp]: 18,
  [MessageType.Removed]: 19,
};
const CODE_TYPES = new Map<number, MessageType>(Object.entries(MESSAGE_TYPE_CODES).map(([t, c]) => [c, t as MessageType]));

export class CodecError extends QuorumError {
  constructor(message: string) {
    super('PEER_FRAME_INVALID', message);
  }
}

const frameError = (what: string) => new CodecError(`malformed frame: ${what}`);

/** Encodes messages into one frame (length prefix included). */
export function encodeFrame(messages: readonly Message[]): Buffer {
  const w = new BinaryWriter(64 + messages.length * 80);
  w.u32(0); // length, patched below
  w.u8(WIRE_VERSION);
  w.u32(messages.length);
  try {
    for (const m of messages) encodeMessage(w, m);
  } catch (err) {
    if (err instanceof RangeError) throw new CodecError(err.message);
    throw err;
  }
  w.patchU32(0, w.length - FRAME_HEADER_BYTES);
  return w.finish();
}

function encodeMessage(w: BinaryWriter, m: Message): void {
  const code = MESSAGE_TYPE_CODES[m.type];
  if (code === undefined) throw new CodecError(`unknown message type ${String(m.type)}`);
  w.u8(code);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.context ? FLAG_CONTEXT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0));
  w.u64(m.to);
  w.u64(m.from);
  w.u64(m.term);
  w.u64(m.logTerm);
  w.u64(m.index);
  w.u64(m.commit);
  w.u64(m.rejectHint);
  w.u32(m.entries.length);
  for (const e of m.entries) {
    w.u64(e.index);
    w.u64(e.term);
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.context) w.bytes(m.context);
  if (m.snapshot) encodeSnapshot(w, m.snapshot);
}

function encodeSnapshot(w: BinaryWriter, s: Snapshot): void {
  w.u64(s.metadata.index);
  w.u64(s.metadata.term);
  w.u32(s.metadata.confState.voters.length);
  for (const id of s.metadata.confState.voters) w.u64(id);
  w.u32(s.metadata.confState.learners.length);
  for (const id of s.metadata.confState.learners) w.u64(id);
  w.bytes(s.data);
}

/** Decodes a frame body (the bytes after the length prefix). */
export function decodeFrameBody(body: Buffer): Message[] {
  const r = new BinaryReader(body, frameError);
  const version = r.u8('version');
  if (version !== WIRE_VERSION) throw new CodecError(`wire version ${version}, expected ${WIRE_VERSION}`);
  const count = r.count('message count', 62);
  const out: Message[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = decodeMessage(r);
  if (r.left !== 0) throw new CodecError('bytes left after the last message');
  return out;
}

function decodeMessage(r: BinaryReader): Message {
  const code = r.u8('message type');
  const type = CODE_TYPES.get(code);
  if (type === undefined) throw new CodecError(`unknown message type code ${code}`);
  const flags = r.u8('flags');
  const m: Message = {
    type,
    to: r.u64('to'),
    from: r.u64('from'),
    term: r.u64('term'),
    logTerm: r.u64('logTerm'),
    index: r.u64('index'),
    commit: r.u64('commit'),
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint: r.u64('rejectHint'),
    entries: [],
  };
  const entries = r.count('entry count', 21);
  for (let i = 0; i < entries; i++) m.entries.push(decodeEntry(r));
  if (flags & FLAG_CONTEXT) m.context = r.bytes('context');
  if (flags & FLAG_SNAPSHOT) m.snapshot = decodeSnapshot(r);
  return m;
}

function decodeEntry(r: BinaryReader): Entry {
  const index = r.u64('entry index');
  const term = r.u64('entry term');
  const type = r.u8('entry type');
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new CodecError(`unknown entry type ${type}`);
  return { index, term, type, data: r.bytes('entry data') };
}

function decodeSnapshot(r: BinaryReader): Snapshot {
  const index = r.u64('snapshot index');
  const term = r.u64('snapshot term');
  const voters: number[] = [];
  for (let n = r.count('voter count', 8); n > 0; n--) voters.push(r.u64('voter'));
  const learners: number[] = [];
  for (let n = r.count('learner count', 8); n > 0; n--) learners.push(r.u64('learner'));
  return { metadata: { index, term, confState: { voters, learners } }, data: r.bytes('snapshot data') };
}
