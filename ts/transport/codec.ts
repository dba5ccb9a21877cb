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
 * Integers are little-endian; u64 values must be safe JS integers. Decoding checks every
 * length against the frame, so a malformed or truncated frame is an error, never a crash.
 */
import { QuorumError } from '../errors';
import { type Entry, EntryType, type Message, MessageType, type Snapshot } from '../raft/types';

export const WIRE_VERSION = 1;
export const FRAME_HEADER_BYTES = 4;

const FLAG_REJECT = 1;
const FLAG_CONTEXT = 2;
const FLAG_SNAPSHOT = 4;
const TWO_32 = 2 ** 32;

const TYPES: MessageType[] = Object.values(MessageType);
const TYPE_CODE = new Map<MessageType, number>(TYPES.map((t, i) => [t, i]));

export class CodecError extends QuorumError {
  constructor(message: string) {
    super('PEER_FRAME_INVALID', message);
  }
}

class Writer {
  buf: Buffer;
  at = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }

  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new CodecError(`cannot encode ${v} as u64`);
    this.room(8);
    this.buf.writeUInt32LE(v % TWO_32, this.at);
    this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.at + 4);
    this.at += 8;
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.room(data.length);
    this.buf.set(data, this.at);
    this.at += data.length;
  }
}

class Reader {
  at = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new CodecError(`frame ends inside ${what} at byte ${this.at}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++];
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const lo = this.buf.readUInt32LE(this.at);
    const hi = this.buf.readUInt32LE(this.at + 4);
    this.at += 8;
    if (hi >= 2 ** 21) throw new CodecError(`${what} exceeds 2^53`);
    return hi * TWO_32 + lo;
  }

  /** A zero-copy view into the frame. */
  bytes(what: string): Uint8Array {
    const len = this.u32(`${what} length`);
    this.need(len, what);
    const out = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return out;
  }

  /** A count of items each at least `minBytes` long, checked against what is left. */
  count(what: string, minBytes: number): number {
    const n = this.u32(what);
    if (n * minBytes > this.buf.length - this.at) throw new CodecError(`${what} ${n} cannot fit in the frame`);
    return n;
  }

  done(): boolean {
    return this.at === this.buf.length;
  }
}

/** Encodes messages into one frame (length prefix included). */
export function encodeFrame(messages: readonly Message[]): Buffer {
  const w = new Writer(64 + messages.length * 80);
  w.u32(0); // length, patched below
  w.u8(WIRE_VERSION);
  w.u32(messages.length);
  for (const m of messages) encodeMessage(w, m);
  w.buf.writeUInt32LE(w.at - FRAME_HEADER_BYTES, 0);
  return w.buf.subarray(0, w.at);
}

function encodeMessage(w: Writer, m: Message): void {
  const code = TYPE_CODE.get(m.type);
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

function encodeSnapshot(w: Writer, s: Snapshot): void {
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
  const r = new Reader(body);
  const version = r.u8('version');
  if (version !== WIRE_VERSION) throw new CodecError(`wire version ${version}, expected ${WIRE_VERSION}`);
  const count = r.count('message count', 62);
  const out: Message[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = decodeMessage(r);
  if (!r.done()) throw new CodecError('bytes left after the last message');
  return out;
}

function decodeMessage(r: Reader): Message {
  const code = r.u8('message type');
  const type = TYPES[code];
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

function decodeEntry(r: Reader): Entry {
  const index = r.u64('entry index');
  const term = r.u64('entry term');
  const type = r.u8('entry type');
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new CodecError(`unknown entry type ${type}`);
  return { index, term, type, data: r.bytes('entry data') };
}

function decodeSnapshot(r: Reader): Snapshot {
  const index = r.u64('snapshot index');
  const term = r.u64('snapshot term');
  const voters: number[] = [];
  for (let n = r.count('voter count', 8); n > 0; n--) voters.push(r.u64('voter'));
  const learners: number[] = [];
  for (let n = r.count('learner count', 8); n > 0; n--) learners.push(r.u64('learner'));
  return { metadata: { index, term, confState: { voters, learners } }, data: r.bytes('snapshot data') };
}
