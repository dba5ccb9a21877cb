/**
 * State-machine commands as they travel inside Raft entries (binary: entries cross the peer
 * path, which carries no JSON). Values are the client's JSON text, stored as bytes.
 *
 *   command = op u8 | flags u8 | origin u32 | seq u64 | [ifRevision u64] | key (u32 + utf8)
 *             | [value (u32 + bytes)]                       (value only for put)
 *
 * `origin`/`seq` identify the request so the node that proposed it can answer its client.
 * `origin` is a random token drawn at each process start, not the node id: entries a previous
 * run (or a wiped predecessor with the same id) proposed can still be applied after a restart,
 * and must not answer this run's requests that happen to reuse their `seq`.
 */
import { QuorumError } from '../errors';

export enum Op {
  Put = 1,
  Delete = 2,
  /** Compare, then run the success or failure ops, atomically. */
  Txn = 3,
  /** A node announces its client address (`key`: "<node id> <host:port>"). */
  Publish = 4,
}

export interface Compare {
  key: string;
  /** The key's revision must equal this (0: absent). */
  revision?: number;
  /** The key's value must equal this JSON text (compared as parsed JSON). */
  value?: Buffer;
  exists?: boolean;
}

export type TxnOp = { kind: 'put'; key: string; value: Buffer } | { kind: 'delete'; key: string } | { kind: 'get'; key: string };

export interface Txn {
  compare: Compare[];
  success: TxnOp[];
  failure: TxnOp[];
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
  /** Txn only (its `key` is empty). */
  txn?: Txn;
}

class Out {
  parts: Buffer[] = [];
  u8(v: number): void {
    this.parts.push(Buffer.from([v]));
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v, 0);
    this.parts.push(b);
  }
  u64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    writeU64(b, 0, v);
    this.parts.push(b);
  }
  bytes(v: Buffer): void {
    this.u32(v.length);
    this.parts.push(v);
  }
  str(v: string): void {
    this.bytes(Buffer.from(v, 'utf8'));
  }
}

const TXN_PUT = 1;
const TXN_DELETE = 2;
const TXN_GET = 3;

function encodeTxn(out: Out, txn: Txn): void {
  out.u32(txn.compare.length);
  for (const c of txn.compare) {
    out.u8((c.revision !== undefined ? 1 : 0) | (c.value !== undefined ? 2 : 0) | (c.exists !== undefined ? 4 : 0) | (c.exists ? 8 : 0));
    out.str(c.key);
    if (c.revision !== undefined) out.u64(c.revision);
    if (c.value !== undefined) out.bytes(c.value);
  }
  for (const ops of [txn.success, txn.failure]) {
    out.u32(ops.length);
    for (const op of ops) {
      out.u8(op.kind === 'put' ? TXN_PUT : op.kind === 'delete' ? TXN_DELETE : TXN_GET);
      out.str(op.key);
      if (op.kind === 'put') out.bytes(op.value);
    }
  }
}

export function encodeCommand(c: Command): Buffer {
  if (c.op === Op.Txn) {
    const out = new Out();
    out.u8(Op.Txn);
    out.u8(0);
    out.u32(c.origin);
    out.u64(c.seq);
    encodeTxn(out, c.txn!);
    return Buffer.concat(out.parts);
  }
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
  if (buf.length < 14) fail('too short');
  let at = 0;
  const op = buf[at++] as Op;
  if (op !== Op.Put && op !== Op.Delete && op !== Op.Txn && op !== Op.Publish) fail(`unknown op ${op}`);
  const flags = buf[at++];
  const origin = buf.readUInt32LE(at);
  at += 4;
  const seq = readU64(buf, at);
  at += 8;
  if (op === Op.Txn) return { op, origin, seq, key: '', txn: decodeTxn(buf, at, fail) };
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

function decodeTxn(buf: Buffer, start: number, fail: (what: string) => never): Txn {
  let at = start;
  const need = (n: number, what: string) => {
    if (buf.length < at + n) fail(`truncated ${what}`);
  };
  const u8 = (what: string) => {
    need(1, what);
    return buf[at++];
  };
  const u32 = (what: string) => {
    need(4, what);
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  const u64 = (what: string) => {
    need(8, what);
    const v = readU64(buf, at);
    at += 8;
    return v;
  };
  const bytes = (what: string) => {
    const n = u32(what);
    need(n, what);
    const v = buf.subarray(at, at + n);
    at += n;
    return v;
  };
  const compare: Compare[] = [];
  for (let n = u32('compare count'); n > 0; n--) {
    const flags = u8('compare flags');
    const c: Compare = { key: bytes('compare key').toString('utf8') };
    if (flags & 1) c.revision = u64('compare revision');
    if (flags & 2) c.value = bytes('compare value');
    if (flags & 4) c.exists = (flags & 8) !== 0;
    compare.push(c);
  }
  const ops = (): TxnOp[] => {
    const out: TxnOp[] = [];
    for (let n = u32('op count'); n > 0; n--) {
      const kind = u8('op kind');
      const key = bytes('op key').toString('utf8');
      if (kind === TXN_PUT) out.push({ kind: 'put', key, value: bytes('op value') });
      else if (kind === TXN_DELETE) out.push({ kind: 'delete', key });
      else if (kind === TXN_GET) out.push({ kind: 'get', key });
      else fail(`unknown txn op ${kind}`);
    }
    return out;
  };
  const success = ops();
  const failure = ops();
  if (at !== buf.length) fail('bytes after the txn');
  return { compare, success, failure };
}
