/**
 * State-machine commands as they travel inside Raft entries (binary: entries cross the peer
 * path, which carries no JSON). Values are the client's JSON text, stored as bytes.
 *
 *   command = version u8 (1) | op u8 | flags u8 | origin u32 | seq u64
 *             | [atMs u64] (flag TIME) | [idempotency key (u32 + utf8)] (flag IDEM)
 *             | put/delete/publish/auth/incr/alarm: [ifRevision u64] | [ttlMs u64] | key (u32 + utf8) | [value (u32 + bytes)] (put, auth; incr: its step as decimal text)
 *             | txn: compares, success ops, failure ops (see `encodeTxn`)
 *             | md ingest: symbol and producer tables, market records (`encodeBatch`)
 *             | session: nothing more (it carries TIME)
 *             | batch: count u32, then per item: flags u8 | op u8 | [ifRevision u64] | [key'] | key | [value]
 *
 * A persisted command outlives the code that wrote it: an unknown version or op is refused
 * with `COMMAND_VERSION_UNSUPPORTED` / `COMMAND_INVALID`, which the applier turns into a clean
 * stop of the node (exit 70), never a crash or a silent skip.
 *
 * Versions: 2 adds one meaning — a batch with an idempotency key (flag IDEM on a Batch: one key
 * for the whole batch, its answer kept as one). A command is written at the lowest version that
 * expresses it (1 unless a batch carries a key), so a node of version 1 still applies every
 * other command alike and stops cleanly at the first it would apply differently: version 1 read
 * a batch's key and ignored it, which would have applied a retried batch twice on that node.
 * Later versions each add an op or a field an older build would misapply: 3 range deletes, 4 key
 * TTLs, 5 increments and TTL changes (`Op.Incr`, `Op.SetTtl`, alone or as batch items; txn
 * increments) and market-data purges (`Op.MdPurge`), 6 txn compares other than equality (`cmp`),
 * 7 disk-space alarms (`Op.Alarm`), 8 state digests (`Op.Hash`).
 *
 * `origin`/`seq` identify the request so the node that proposed it can answer its client.
 * `origin` is a random token drawn at each process start, not the node id: entries a previous
 * run (or a wiped predecessor with the same id) proposed can still be applied after a restart,
 * and must not answer this run's requests that happen to reuse their `seq`.
 */
import { BinaryReader, BinaryWriter } from '../binary';
import { QuorumError } from '../errors';
import { decodeBatch, encodeBatch, type IngestBatch } from '../market/batch';
import { type Entry, EntryType } from '../raft/types';

/** The newest command version this build reads and writes (it reads every version from 1). */
export const COMMAND_VERSION = 8;
/** The first version where a Batch may carry an idempotency key (older ones: per item only). */
const BATCH_IDEM_VERSION = 2;
/** The first version with `Op.DeleteRange` (an older build refuses such an entry by its version). */
const DELETE_RANGE_VERSION = 3;
/** The first version with key TTLs (a put's `ttlMs`, `Op.Expire`). */
const TTL_VERSION = 4;
/** The first version with `Op.Incr` and `Op.SetTtl` (alone or as batch items), and `Op.MdPurge`. */
const INCR_VERSION = 5;
/** The first version with txn compares other than equality (`cmp`). */
const COMPARE_ORDER_VERSION = 6;
/** The first version with `Op.Alarm`. */
const ALARM_VERSION = 7;
/** The first version with `Op.Hash`. */
const HASH_VERSION = 8;

export enum Op {
  Put = 1,
  Delete = 2,
  /** Compare, then run the success or failure ops, atomically. */
  Txn = 3,
  /** A node announces its client address (`key`: "<node id> <host:port>"). */
  Publish = 4,
  /** A batch of market records (`md`), applied all together (ts/market). */
  MdIngest = 5,
  /** Opens a client session (exactly-once writes, ts/node/idempotency.ts). */
  Session = 6,
  /** Independent puts and deletes in one entry, each with its own answer (`items`). */
  Batch = 7,
  /** A change of the auth state (ts/auth/state.ts): `key` is the action, `value` the change as JSON. */
  Auth = 8,
  /**
   * Deletes the first `limit` user keys starting with `key` (a prefix), in key order, as they
   * are when the entry applies: one revision, all or none of that part.
   */
  DeleteRange = 9,
  /** Deletes the keys whose TTL ended by the entry's `atMs` (ts/node/key_ttl.ts), proposed by the leader. */
  Expire = 10,
  /**
   * Adds `value` (an integer as decimal text) to the key's integer value (absent: 0); the key's
   * TTL stays, and `ttlMs` sets one only when the increment creates the key.
   */
  Incr = 11,
  /**
   * Sets the TTL of an existing key without writing it (Redis EXPIRE): it expires `ttlMs` after
   * the entry's `atMs`; without `ttlMs` its TTL ends (PERSIST).
   */
  SetTtl = 12,
  /**
   * Drops stored market data before a venue time (`key`: the time in ns, decimal): each
   * instrument's events and checkpoints up to its newest checkpoint before it (ts/market/purge.ts).
   */
  MdPurge = 13,
  /**
   * A member's disk-space alarm (ts/node/space_guard.ts), raised or cleared by that member:
   * `key` is "<node id> raise <free bytes> <reserve bytes>" or "<node id> clear".
   */
  Alarm = 14,
  /**
   * Changes nothing: every member digests its state as of this entry (ts/node/state_hashes.ts),
   * so an operator can compare them (`key` empty).
   */
  Hash = 15,
}

const OPS = new Set<number>([Op.Put, Op.Delete, Op.Txn, Op.Publish, Op.MdIngest, Op.Session, Op.Batch, Op.Auth, Op.DeleteRange, Op.Expire, Op.Incr, Op.SetTtl, Op.MdPurge, Op.Alarm, Op.Hash]);

/** One write of a batch: applied (or refused) on its own. */
export interface BatchItem {
  op: Op.Put | Op.Delete | Op.Incr | Op.SetTtl;
  key: string;
  value?: Buffer;
  ifRevision?: number;
  idem?: string;
  /** A put's TTL, from the batch's `atMs` (which it then carries). */
  ttlMs?: number;
  /** Decoded keyed items: the item's bytes in the entry (its fingerprint is taken over them). */
  raw?: Buffer;
}

/** How a compare's revision or value relates to the key's (ts/node/txn_compare.ts). */
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
/** The wire codes of `cmp` (index + 1; `=` is the default and never written). */
export const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '<=', '>', '>='];

export interface Compare {
  key: string;
  /** The key's revision against this (0: absent). */
  revision?: number;
  /** The key's value against this JSON text. */
  value?: Buffer;
  exists?: boolean;
  /** The relation the key's revision or value must have to the compare's (absent: `=`; version 6). */
  cmp?: CompareOp;
}

/** A txn put's `ttlMs` counts from the txn's `atMs` (which it then carries). */
export type TxnOp = { kind: 'put'; key: string; value: Buffer; ttlMs?: number } | { kind: 'delete'; key: string } | { kind: 'get'; key: string } | { kind: 'incr'; key: string; by: number };

export interface Txn {
  compare: Compare[];
  success: TxnOp[];
  failure: TxnOp[];
}

const FLAG_IF_REVISION = 1;
const FLAG_IDEM = 2;
const FLAG_TIME = 4;
const FLAG_TTL = 8;

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
  /** MdIngest only (its `key` is empty). */
  md?: IngestBatch;
  /**
   * The write's idempotency key: a retry carrying it gets the first answer. On a Batch, one key
   * for the whole batch (its items then carry none).
   */
  idem?: string;
  /** The proposer's wall clock (ms) at proposal: the state machine's clock for expiring keys and sessions. */
  atMs?: number;
  /** Batch only (its `key` is empty). */
  items?: BatchItem[];
  /**
   * Batch only: the items' bytes in the entry, count included (a keyed batch's fingerprint is
   * taken over them). Decoded batches carry them beside `items`; a proposal may carry them
   * instead of `items` (encoded by the addon from a compact request body), and they are then
   * written as they are.
   */
  itemsRaw?: Buffer;
  /** DeleteRange only: at most this many keys are deleted (≥ 1). */
  limit?: number;
  /** Put only: the key expires `ttlMs` after the entry's `atMs` (which it then carries). */
  ttlMs?: number;
}

const TXN_PUT = 1;
const TXN_DELETE = 2;
const TXN_GET = 3;
/** A put with a TTL (version 4). */
const TXN_PUT_TTL = 4;
/** An increment, its step as decimal text (version 5). */
const TXN_INCR = 5;
const COMPARE_REVISION = 1;
const COMPARE_VALUE = 2;
const COMPARE_EXISTS = 4;
const COMPARE_EXISTS_TRUE = 8;
/** A `cmp` code (u8) follows the compare's fields. */
const COMPARE_CMP = 16;

function encodeTxn(w: BinaryWriter, txn: Txn): void {
  w.u32(txn.compare.length);
  for (const c of txn.compare) {
    const flags = (c.revision !== undefined ? COMPARE_REVISION : 0) | (c.value !== undefined ? COMPARE_VALUE : 0) | (c.exists !== undefined ? COMPARE_EXISTS : 0) | (c.exists ? COMPARE_EXISTS_TRUE : 0) | (orderedCmp(c) ? COMPARE_CMP : 0);
    w.u8(flags);
    w.str(c.key);
    if (c.revision !== undefined) w.u64(c.revision);
    if (c.value !== undefined) w.bytes(c.value);
    if (orderedCmp(c)) w.u8(COMPARE_OPS.indexOf(c.cmp!) + 1);
  }
  for (const ops of [txn.success, txn.failure]) {
    w.u32(ops.length);
    for (const op of ops) {
      w.u8(op.kind === 'put' ? (op.ttlMs === undefined ? TXN_PUT : TXN_PUT_TTL) : op.kind === 'delete' ? TXN_DELETE : op.kind === 'incr' ? TXN_INCR : TXN_GET);
      w.str(op.key);
      if (op.kind === 'put') w.bytes(op.value);
      if (op.kind === 'incr') w.bytes(Buffer.from(String(op.by)));
      if (op.kind === 'put' && op.ttlMs !== undefined) w.u64(op.ttlMs);
    }
  }
}

function encodeItem(w: BinaryWriter, it: BatchItem): void {
  w.u8((it.ifRevision !== undefined ? FLAG_IF_REVISION : 0) | (it.idem !== undefined ? FLAG_IDEM : 0) | (it.ttlMs !== undefined ? FLAG_TTL : 0));
  w.u8(it.op);
  if (it.ifRevision !== undefined) w.u64(it.ifRevision);
  if (it.ttlMs !== undefined) w.u64(it.ttlMs);
  if (it.idem !== undefined) w.str(it.idem);
  w.str(it.key);
  if (it.op === Op.Put || it.op === Op.Incr) w.bytes(it.value ?? Buffer.alloc(0));
}

function encodeItems(w: BinaryWriter, items: BatchItem[]): void {
  w.u32(items.length);
  for (const it of items) encodeItem(w, it);
}

/** One write encoded as a batch item is (a decoded item's `raw`): what its fingerprint is taken over. */
export function itemBytes(it: BatchItem): Buffer {
  if (it.raw) return it.raw;
  const w = new BinaryWriter(32 + it.key.length * 3 + (it.idem?.length ?? 0) * 3 + (it.value?.length ?? 0));
  encodeItem(w, it);
  return w.finish();
}

function decodeItems(r: BinaryReader): BatchItem[] {
  const items: BatchItem[] = [];
  for (let n = r.count('item count', 6); n > 0; n--) {
    const from = r.at;
    const flags = r.u8('item flags');
    const op = r.u8('item op');
    if (op !== Op.Put && op !== Op.Delete && op !== Op.Incr && op !== Op.SetTtl) throw malformed(`batch item op ${op}`);
    const ifRevision = flags & FLAG_IF_REVISION ? r.u64('item ifRevision') : undefined;
    const ttlMs = flags & FLAG_TTL ? r.u64('item ttlMs') : undefined;
    if (ttlMs !== undefined && op === Op.Delete) throw malformed('a TTL on a delete');
    const idem = flags & FLAG_IDEM ? r.str('item idempotency key') : undefined;
    const key = r.str('item key');
    const value = op === Op.Put || op === Op.Incr ? r.bytes('item value') : undefined;
    // (Only a keyed item's fingerprint is taken over its bytes: a view per item was ~a fifth of decoding.)
    const item: BatchItem = { op, key, value, ifRevision, idem, raw: idem === undefined ? undefined : r.span(from) };
    if (ttlMs !== undefined) item.ttlMs = ttlMs;
    items.push(item);
  }
  return items;
}

function decodeBatchBody(r: BinaryReader): Pick<Command, 'items' | 'itemsRaw'> {
  const from = r.at;
  const items = decodeItems(r);
  return { items, itemsRaw: r.span(from) };
}

function commandBytes(c: Command): number {
  const items = c.itemsRaw?.length ?? c.items?.reduce((n, it) => n + 32 + it.key.length * 3 + (it.idem?.length ?? 0) * 3 + (it.value?.length ?? 0), 0) ?? 0;
  return 48 + c.key.length * 3 + (c.value?.length ?? 0) + (c.idem?.length ?? 0) * 3 + items;
}

export function encodeCommand(c: Command): Buffer {
  const w = new BinaryWriter(commandBytes(c));
  w.u8(versionOf(c));
  w.u8(c.op);
  w.u8((c.ifRevision !== undefined ? FLAG_IF_REVISION : 0) | (c.idem !== undefined ? FLAG_IDEM : 0) | (c.atMs !== undefined ? FLAG_TIME : 0) | (c.ttlMs !== undefined ? FLAG_TTL : 0));
  w.u32(c.origin);
  w.u64(c.seq);
  if (c.atMs !== undefined) w.u64(c.atMs);
  if (c.idem !== undefined) w.str(c.idem);
  if (c.op === Op.Session || c.op === Op.Expire) return w.finish();
  if (c.op === Op.Batch) {
    if (c.itemsRaw) w.raw(c.itemsRaw);
    else encodeItems(w, c.items!);
    return w.finish();
  }
  if (c.op === Op.Txn) {
    encodeTxn(w, c.txn!);
    return w.finish();
  }
  if (c.op === Op.MdIngest) {
    encodeBatch(w, c.md!);
    return w.finish();
  }
  if (c.op === Op.DeleteRange) {
    w.str(c.key);
    w.u32(c.limit!);
    return w.finish();
  }
  if (c.ifRevision !== undefined) w.u64(c.ifRevision);
  if (c.ttlMs !== undefined) w.u64(c.ttlMs);
  w.str(c.key);
  if (c.op === Op.Put || c.op === Op.Auth || c.op === Op.Incr) w.bytes(c.value ?? Buffer.alloc(0));
  return w.finish();
}

const malformed = (what: string) => new QuorumError('COMMAND_INVALID', `malformed command: ${what}`);

function txnHasIncr(txn: Txn): boolean {
  return [...txn.success, ...txn.failure].some((op) => op.kind === 'incr');
}

function txnHasTtl(txn: Txn): boolean {
  return [...txn.success, ...txn.failure].some((op) => op.kind === 'put' && op.ttlMs !== undefined);
}

/** The oldest format that holds `c`: an older build refuses what it cannot apply by the version. */
function versionOf(c: Command): number {
  if (c.op === Op.Hash) return HASH_VERSION;
  if (c.op === Op.Alarm) return ALARM_VERSION;
  if (c.txn?.compare.some(orderedCmp)) return COMPARE_ORDER_VERSION;
  if (c.op === Op.Incr || c.op === Op.SetTtl || c.op === Op.MdPurge || c.items?.some((it) => it.op === Op.Incr || it.op === Op.SetTtl) || (c.txn !== undefined && txnHasIncr(c.txn))) return INCR_VERSION;
  if (c.op === Op.Expire || c.ttlMs !== undefined || c.items?.some((it) => it.ttlMs !== undefined) || (c.txn !== undefined && txnHasTtl(c.txn))) return TTL_VERSION;
  if (c.op === Op.DeleteRange) return DELETE_RANGE_VERSION;
  return c.op === Op.Batch && c.idem !== undefined ? BATCH_IDEM_VERSION : 1;
}

/** A compare other than equality (written with its code; `=` is left out, as before version 6). */
const orderedCmp = (c: Compare): boolean => c.cmp !== undefined && c.cmp !== '=';

export function decodeCommand(data: Uint8Array): Command {
  const r = new BinaryReader(data, malformed);
  const version = r.u8('version');
  if (version < 1 || version > COMMAND_VERSION) throw new QuorumError('COMMAND_VERSION_UNSUPPORTED', `command version ${version}; this build reads versions 1 to ${COMMAND_VERSION}`);
  const op = r.u8('op');
  if (!OPS.has(op)) throw malformed(`unknown op ${op}`);
  const flags = r.u8('flags');
  const origin = r.u32('origin');
  const seq = r.u64('seq');
  const atMs = flags & FLAG_TIME ? r.u64('atMs') : undefined;
  const idem = flags & FLAG_IDEM ? r.str('idempotency key') : undefined;
  // (Absent fields stay absent, not undefined: decoded commands compare equal to what was encoded.)
  const head: Command = { op, origin, seq, key: '' };
  if (atMs !== undefined) head.atMs = atMs;
  if (idem !== undefined) head.idem = idem;
  // (Version 1 never wrote a keyed batch; one that claims to is not what its writer applied.)
  if (op === Op.Batch && idem !== undefined && version < BATCH_IDEM_VERSION) throw malformed('a version 1 batch with an idempotency key');
  if (op === Op.DeleteRange) {
    if (version < DELETE_RANGE_VERSION) throw malformed(`a version ${version} range delete`);
    const key = r.str('prefix');
    const limit = r.u32('limit');
    if (limit < 1) throw malformed('a range delete of at most 0 keys');
    r.end();
    return { ...head, key, limit };
  }
  if ((op === Op.Expire || flags & FLAG_TTL) && version < TTL_VERSION) throw malformed(`a version ${version} command with a TTL`);
  if (op === Op.Expire && atMs === undefined) throw malformed('an expiry without its time');
  if (op === Op.Session || op === Op.Expire || op === Op.Batch || op === Op.Txn || op === Op.MdIngest) {
    const body: Partial<Command> = op === Op.Batch ? decodeBatchBody(r) : op === Op.Txn ? { txn: decodeTxn(r) } : op === Op.MdIngest ? { md: decodeBatch(r, malformed) } : {};
    r.end();
    const ttl = body.items?.some((it) => it.ttlMs !== undefined) || (body.txn !== undefined && txnHasTtl(body.txn));
    if (ttl && (version < TTL_VERSION || atMs === undefined)) throw malformed(`a version ${version} command with a TTL, or one without its time`);
    if (version < COMPARE_ORDER_VERSION && body.txn?.compare.some(orderedCmp)) throw malformed(`a version ${version} txn with an ordered compare`);
    if (version < INCR_VERSION && (body.items?.some((it) => it.op === Op.Incr || it.op === Op.SetTtl) || (body.txn !== undefined && txnHasIncr(body.txn)))) throw malformed(`a version ${version} command with an increment or a TTL change`);
    return { ...head, ...body };
  }
  const ifRevision = flags & FLAG_IF_REVISION ? r.u64('ifRevision') : undefined;
  const ttlMs = flags & FLAG_TTL ? r.u64('ttlMs') : undefined;
  if (ttlMs !== undefined && ((op !== Op.Put && op !== Op.Incr && op !== Op.SetTtl) || atMs === undefined)) throw malformed('a TTL on a command other than a put, an increment or a TTL change with its time');
  if ((op === Op.Incr || op === Op.SetTtl || op === Op.MdPurge) && version < INCR_VERSION) throw malformed(`a version ${version} increment, TTL change or purge`);
  if (op === Op.MdPurge && (flags & ~FLAG_IDEM & ~FLAG_TIME) !== 0) throw malformed('a purge with a condition or a TTL');
  if (op === Op.Alarm && (version < ALARM_VERSION || flags !== 0)) throw malformed(`a version ${version} alarm, or one with flags`);
  if (op === Op.Hash && (version < HASH_VERSION || flags !== 0)) throw malformed(`a version ${version} hash, or one with flags`);
  const key = r.str('key');
  const value = op === Op.Put || op === Op.Auth || op === Op.Incr ? r.bytes('value') : undefined;
  r.end();
  const out: Command = { ...head, key, value, ifRevision };
  if (ttlMs !== undefined) out.ttlMs = ttlMs;
  return out;
}

function decodeTxnOps(r: BinaryReader): TxnOp[] {
  const out: TxnOp[] = [];
  for (let n = r.count('op count', 5); n > 0; n--) {
    const kind = r.u8('op kind');
    const key = r.str('op key');
    if (kind === TXN_PUT) out.push({ kind: 'put', key, value: r.bytes('op value') });
    else if (kind === TXN_PUT_TTL) out.push({ kind: 'put', key, value: r.bytes('op value'), ttlMs: r.u64('op ttlMs') });
    else if (kind === TXN_DELETE) out.push({ kind: 'delete', key });
    else if (kind === TXN_GET) out.push({ kind: 'get', key });
    else if (kind === TXN_INCR) out.push({ kind: 'incr', key, by: txnStep(r.bytes('op step').toString('utf8')) });
    else throw malformed(`unknown txn op ${kind}`);
  }
  return out;
}

function txnStep(text: string): number {
  const by = /^-?\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(by)) throw malformed(`an increment's step ${JSON.stringify(text.slice(0, 20))}`);
  return by;
}

function decodeTxn(r: BinaryReader): Txn {
  const compare: Compare[] = [];
  for (let n = r.count('compare count', 5); n > 0; n--) {
    const flags = r.u8('compare flags');
    const c: Compare = { key: r.str('compare key') };
    if (flags & COMPARE_REVISION) c.revision = r.u64('compare revision');
    if (flags & COMPARE_VALUE) c.value = r.bytes('compare value');
    if (flags & COMPARE_EXISTS) c.exists = (flags & COMPARE_EXISTS_TRUE) !== 0;
    if (flags & COMPARE_CMP) {
      const cmp = COMPARE_OPS[r.u8('compare cmp') - 1];
      if (cmp === undefined || cmp === '=') throw malformed('compare cmp code');
      c.cmp = cmp;
    }
    compare.push(c);
  }
  const success = decodeTxnOps(r);
  const failure = decodeTxnOps(r);
  return { compare, success, failure };
}

const opOf = (e: Entry): number | undefined => (e.type === EntryType.Normal && e.data.length > 1 ? e.data[1] : undefined);

/** Whether `e` holds an `Op.Hash` (the write batch it is in ends with it: `splitForApply`). */
export const isHashEntry = (e: Entry): boolean => opOf(e) === Op.Hash;

/**
 * `entries` cut into write batches whatever the batching (nodes batch the same entries
 * differently): before each market-data purge, which reads the engine and must find every entry
 * before it there; after each hash, whose digest is of the state exactly as of it.
 */
export function splitForApply(entries: Entry[]): Entry[][] {
  const parts: Entry[][] = [[]];
  for (const e of entries) {
    if (opOf(e) === Op.MdPurge && parts[parts.length - 1].length > 0) parts.push([]);
    parts[parts.length - 1].push(e);
    if (isHashEntry(e)) parts.push([]);
  }
  return parts.filter((p) => p.length > 0);
}

const TWO_32 = 2 ** 32;

/** A stored value: `[revision u64][JSON text]`. */
export function encodeStored(revision: number, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + value.length);
  out.writeUInt32LE(revision % TWO_32, 0);
  out.writeUInt32LE(Math.floor(revision / TWO_32), 4);
  value.copy(out, 8);
  return out;
}

/** A stored value starts with its revision (u64 LE), then the value's JSON text. */
export const STORED_REVISION_BYTES = 8;

export function decodeStored(buf: Buffer): { revision: number; value: Buffer } {
  return { revision: buf.readUInt32LE(0) + buf.readUInt32LE(4) * TWO_32, value: buf.subarray(STORED_REVISION_BYTES) };
}
