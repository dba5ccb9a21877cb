/**
 * State-machine commands as they travel inside Raft entries (binary: entries cross the peer
 * path, which carries no JSON). Values are the client's JSON text, stored as bytes.
 *
 *   command = op u8 | flags u8 | origin u32 | seq u64 | [ifRevision u64] | key (u32 + utf8)
 *             | [value (u32 + bytes)]                       (value only for put)
 *
 * `origin`/`seq` identify the request so the node that proposed it can answer its client.
 */
import { QuorumError } from '../errors';

export enum Op {
  Put = 1,
  Delete = 2,
}

const FLAG_IF_REVISION = 1;
const TWO_32 = 2 ** 32;

export interface Command {
  op: Op;
  origin: number;
  seq: number;
  key: string;
  /** JSON text of the value (put only). */
  value?: Buffer;
  /** Apply only if the key's revision equals this (0: only if absent). */
  ifRevision?: number;
}

export function encodeCommand(c: Command): Buffer {
  const key = Buffer.from(c.key, 'utf8');
  const value = c.op === Op.Put ? (c.value ?? Buffer.alloc(0)) : undefined;
  const bytes = 2 + 4 + 8 + (c.ifRevision !== undefined ? 8 : 0) + 4 + key.length + (value ? 4 + value.length : 0);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  out[at++] = c.op;
  out[at++] = c.ifRevision !== undefined ? FLAG_IF_REVISION : 0;
  out.writeUInt32LE(c.origin, at);
  at += 4;
  at = writeU64(out, at, c.seq);
  if (c.ifRevision !== undefined) at = writeU64(out, at, c.ifRevision);
  out.writeUInt32LE(key.length, at);
  key.copy(out, at + 4);
  at += 4 + key.length;
  if (value) {
    out.writeUInt32LE(value.length, at);
    value.copy(out, at + 4);
  }
  return out;
}

export function decodeCommand(data: Uint8Array): Command {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (what: string): never => {
    throw new QuorumError('COMMAND_INVALID', `malformed command: ${what}`);
  };
  if (buf.length < 18) fail('too short');
  let at = 0;
  const op = buf[at++] as Op;
  if (op !== Op.Put && op !== Op.Delete) fail(`unknown op ${op}`);
  const flags = buf[at++];
  const origin = buf.readUInt32LE(at);
  at += 4;
  const seq = readU64(buf, at);
  at += 8;
  let ifRevision: number | undefined;
  if (flags & FLAG_IF_REVISION) {
    if (buf.length < at + 8) fail('truncated ifRevision');
    ifRevision = readU64(buf, at);
    at += 8;
  }
  if (buf.length < at + 4) fail('truncated key length');
  const keyLen = buf.readUInt32LE(at);
  if (buf.length < at + 4 + keyLen) fail('truncated key');
  const key = buf.toString('utf8', at + 4, at + 4 + keyLen);
  at += 4 + keyLen;
  let value: Buffer | undefined;
  if (op === Op.Put) {
    if (buf.length < at + 4) fail('truncated value length');
    const valueLen = buf.readUInt32LE(at);
    if (buf.length < at + 4 + valueLen) fail('truncated value');
    value = buf.subarray(at + 4, at + 4 + valueLen);
  }
  return { op, origin, seq, key, value, ifRevision };
}

/** A stored value: `[revision u64][JSON text]`. */
export function encodeStored(revision: number, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + value.length);
  writeU64(out, 0, revision);
  value.copy(out, 8);
  return out;
}

export function decodeStored(buf: Buffer): { revision: number; value: Buffer } {
  return { revision: readU64(buf, 0), value: buf.subarray(8) };
}

function writeU64(buf: Buffer, at: number, v: number): number {
  buf.writeUInt32LE(v % TWO_32, at);
  buf.writeUInt32LE(Math.floor(v / TWO_32), at + 4);
  return at + 8;
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}
