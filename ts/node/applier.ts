/**
 * Applies committed entries to the engine, off the request path: one WriteBatch per committed
 * batch, with the applied index in the same batch (so a restart resumes exactly after it).
 * Batches apply strictly in order.
 *
 * Limit: `backlogBytesMax` — the bytes of entries queued and not yet applied. Past it the
 * driver stops taking Readies (so no more committed entries are handed out) and refuses new
 * writes with `overloaded`, until the backlog drains below half the limit.
 *
 * Every failure while applying — a malformed command, an unknown command version, a decode
 * error of a stored record, the engine's own errors — goes through the one fatal path: nothing
 * later is applied, waiters are failed, and `onFatal` stops the node (exit 70).
 *
 * Conditional writes are decided here, deterministically from the state being built, so every
 * replica reaches the same answer.
 */
import { type AnswerLayout, type Engine, type EngineOp, type ItemShape, type KeyValue, packBatch, type RangeCount, type ScanOptions } from '../native';
import { type Entry, EntryType } from '../raft/types';
import { invariant } from '../raft/assert';
import { QuorumError } from '../errors';
import { type IngestResult, MarketState, type PurgeResult } from '../market/state';
import { ChangeFeed, type KvChange } from './change_feed';
import { type BatchItem, type Command, decodeCommand, decodeStored, isHashEntry, itemBytes, Op, splitForApply, type Txn } from './commands';
import { StateHashes } from './state_hashes';
import { fingerprint, printBytes } from './fingerprint';
import { keepBatch, type KeptBatch, restoreBatch } from './batch_answers';
import { IdempotencyTable, type Refusal } from './idempotency';
import { type Current, Overlay } from './overlay';
import { EXPIRE_KEYS_MAX, KeyTtl, TTL_KEYS_MAX, TTL_LIMIT_REFUSAL } from './key_ttl';
import { applyIncr, increment, writeCounter } from './counters';
import { applySetTtl } from './set_ttl';
import { compareHolds } from './txn_compare';
import { ReadGate } from './read_gate';
import { type AuthChange, type AuthResult, AuthState } from '../auth/state';
import { applyAlarm, applyMemberChange, decodeMemberChange, decodeRecord, encodeRecord, type MemberChange, MEMBERS_KEY, type MembersRecord, publishClient, RESERVED_KEY_PREFIX, RESERVED_KEYS_END } from './membership';


export type TxnOpResult =
  | { op: 'put'; key: string; revision: number; expiresAtMs?: number }
  | { op: 'delete'; key: string; deleted: boolean }
  | { op: 'get'; key: string; found: boolean; value?: Buffer; revision?: number }
  | { op: 'incr'; key: string; value: number };

/** The answer to one write; `replayed`: the first answer to its idempotency key, given again. */
export type WriteResult = (
  | { kind: 'put'; revision: number; expiresAtMs?: number }
  | { kind: 'delete'; deleted: boolean; revision: number }
  | { kind: 'mismatch'; currentRevision: number }
  | { kind: 'txn'; succeeded: boolean; revision: number; results: TxnOpResult[] }
  | { kind: 'range'; deleted: number; more: boolean; revision: number }
  | { kind: 'incr'; value: number; revision: number; expiresAtMs?: number }
  | { kind: 'ttl'; revision: number; expiresAtMs: number | null }
  | ({ kind: 'refused' } & (Refusal | { code: 'too_many_ttl_keys' | 'not_a_counter' | 'counter_overflow' | 'not_found'; message: string }))
) & { replayed?: boolean };

/** A batch's answers, one per item; `replayed`: a keyed batch's first answer, given again. */
export type BatchResult = { kind: 'batch'; results: WriteResult[]; replayed?: boolean };

export type ApplyResult =
  | WriteResult
  | BatchResult
  | { kind: 'session'; session: string }
  | { kind: 'member'; index: number; members: MembersRecord }
  | { kind: 'published'; index: number }
  | { kind: 'hashed'; index: number }
  | { kind: 'expired'; deleted: number }
  | AuthResult
  | IngestResult
  | PurgeResult;

export interface Applied {
  index: number;
  /** The proposing process (its random origin token) and its request number there. */
  origin: number;
  seq: number;
  result: ApplyResult;
  /** The membership change applied (ConfChange entries only). */
  change?: MemberChange;
}

/** The membership record stored in `engine` (undefined: none written since bootstrap). */
export function storedMembers(engine: Engine): MembersRecord | undefined {
  const raw = engine.get(MEMBERS_KEY);
  return raw ? decodeRecord(raw) : undefined;
}

export const APPLY_BACKLOG_BYTES_MAX = 64 << 20;

export class Applier {
  /** The market-data state (books, producers, gaps), applied with everything else. */
  readonly market = new MarketState();
  /** Idempotency keys and client sessions (exactly-once writes). */
  readonly idem = new IdempotencyTable();
  /** Tokens and roles (authentication and authorization). */
  readonly auth = new AuthState();
  /** Keys written with a TTL, and when each expires. */
  readonly ttl = new KeyTtl();
  /** Digests of the state at `Op.Hash` entries. */
  readonly hashes = new StateHashes();
  /** Engine reads (the read cache's misses, scans) wait while a batch written on the pool is not yet published. */
  private readonly gate = new ReadGate();
  /** Every KV change, published in apply order once its batch is durable. */
  readonly feed: ChangeFeed;
  private chain: Promise<void> = Promise.resolve();
  /** Compactions of purged ranges and state digests still running (see `publish`); they never reject. */
  private compactions: Promise<void> = Promise.resolve();
  /** Bytes of entries pushed and not yet applied (or skipped): ≥ 0. */
  private backlogBytes = 0;
  /** Waiting for the backlog to drain below half the limit. */
  private drainWaiters: (() => void)[] = [];
  /** The engine's applied index: every entry at or below it is applied. */
  private appliedIndex: number;
  private readonly waiters: { index: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private failure: Error | undefined;
  private membersRecord: MembersRecord;

  constructor(
    private engine: Engine,
    /** The configuration to start from when the engine holds no membership record. */
    initialMembers: MembersRecord,
    /** Called on the JS thread once a batch is durable in the engine, in index order. */
    /** `lastTerm`: the term of the batch's last entry (the highest term applied so far). */
    private readonly onApplied: (results: Applied[], lastTerm: number) => void,
    /** The engine failed: the node must stop (nothing later is applied). */
    private readonly onFatal: (err: Error) => void,
    private readonly backlogBytesMax = APPLY_BACKLOG_BYTES_MAX,
    watchHistoryMax?: number,
  ) {
    this.appliedIndex = engine.appliedIndex();
    this.membersRecord = storedMembers(engine) ?? initialMembers;
    this.feed = new ChangeFeed(this.appliedIndex, watchHistoryMax);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  /** The membership as of the applied index. */
  get members(): MembersRecord {
    return this.membersRecord;
  }

  /** Queues a committed batch. Entries at or below the applied index are skipped (replay). */
  push(entries: readonly Entry[]): void {
    const fresh = entries.filter((e) => e.index > this.appliedIndex);
    if (fresh.length === 0) return;
    const bytes = fresh.reduce((n, e) => n + e.data.length, 0);
    this.backlogBytes += bytes;
    this.chain = this.chain.then(async () => {
      try {
        for (const part of splitForApply(fresh)) await this.applyBatch(part);
      } catch (err) {
        this.die(err as Error);
      } finally {
        this.backlogBytes -= bytes;
        if (this.backlogBytes <= this.backlogBytesMax / 2) for (const w of this.drainWaiters.splice(0)) w();
      }
    });
  }

  /** The backlog is past its limit: take no more committed entries, accept no more writes. */
  get overloaded(): boolean {
    return this.backlogBytes > this.backlogBytesMax;
  }

  /** Resolves once the backlog is at most half its limit (at once if it is). */
  drained(): Promise<void> {
    if (this.backlogBytes <= this.backlogBytesMax / 2 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Applying failed: nothing later may be applied; whoever waits is failed; the node stops. */
  private die(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const w of this.drainWaiters.splice(0)) w();
    this.onFatal(err);
  }

  /** Resolves once `index` is applied (rejects if the applier failed). */
  waitFor(index: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (index <= this.appliedIndex) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ index, resolve, reject }));
  }

  /**
   * Resolves when everything queued so far is applied and the compactions it started are done
   * (a closing node must not release its engine's directory while one still holds it open).
   */
  idle(): Promise<void> {
    return this.chain.then(() => this.compactions);
  }

  /**
   * Continues from an installed snapshot: `engine` holds the state through `index`. Only
   * while idle (the driver awaits `idle()` and queues nothing meanwhile).
   */
  async install(engine: Engine, index: number, snapshotMembers: MembersRecord): Promise<void> {
    invariant(engine.appliedIndex() === index, () => `installed engine is at ${engine.appliedIndex()}, the snapshot at ${index}`);
    this.engine = engine;
    // The checkpoint carries the record as of its index (none: the bootstrap configuration,
    // which the snapshot's metadata describes), and the market state.
    this.membersRecord = storedMembers(engine) ?? snapshotMembers;
    // (The read cache lives with the engine: the new one starts empty.)
    await this.market.load(engine);
    await this.idem.load(engine);
    await this.ttl.load(engine);
    await this.auth.load(engine);
    // Only now: a read waiting for this index (a replay's instruments after a read barrier) must
    // find the market state loaded, not the state before the install.
    this.appliedIndex = index;
    this.feed.reset(index);
    this.release();
  }

  /** Reads the market, idempotency and auth state the engine holds (once, before the first batch is pushed). */
  async loadState(): Promise<void> {
    await this.market.load(this.engine);
    await this.idem.load(this.engine);
    await this.ttl.load(this.engine);
    await this.auth.load(this.engine);
  }

  private async applyBatch(entries: Entry[]): Promise<void> {
    if (this.failure) return;
    const last = entries[entries.length - 1].index;
    if (last <= this.appliedIndex) return;
    const batch: Batch = { ops: [], overlay: new Overlay(), results: [], members: this.membersRecord, changes: [], ttl: this.ttl };
    for (const e of entries) {
      if (e.index <= this.appliedIndex || e.data.length === 0) continue;
      this.applyEntry(batch, e);
    }
    this.idem.finishBatch(batch.ops);
    const packed = packBatch(batch.ops);
    // Written here: published with no await between (a read queued meanwhile would see the
    // engine ahead of the cache). Written on the pool: engine reads wait behind the gate.
    if (this.engine.applyHere(packed, last) !== undefined) return this.publish(batch, entries, last, packed);
    await this.gate.close();
    try {
      await this.engine.applyPacked(packed, last);
      this.publish(batch, entries, last, packed);
    } finally {
      this.gate.reopen();
    }
  }

  private publish(batch: Batch, entries: Entry[], last: number, packed: Buffer): void {
    invariant(this.appliedIndex < last, () => `applied index moved from under a batch: ${this.appliedIndex} ≥ ${last}`);
    // The read cache in the same turn as the applied index: no read sees one without the other.
    this.engine.cacheApplied(packed);
    this.appliedIndex = last;
    this.membersRecord = batch.members;
    this.feed.publish(batch.changes, last);
    this.market.publish();
    // Space back after a purge, a digest at a hash entry: a failure is the disk failing, as a
    // failed write is; an install or a close waits for them (`idle`).
    const work: Promise<unknown>[] = this.market.takeCompactions().map(([start, end]) => this.engine.compactRange(start, end));
    if (isHashEntry(entries[entries.length - 1])) work.push(this.hashes.take(last, this.engine));
    const done = work.map((w) => w.then(() => undefined, (err: Error) => this.die(err)));
    if (done.length > 0) this.compactions = Promise.all([this.compactions, ...done]).then(() => undefined);
    this.onApplied(batch.results, entries[entries.length - 1].term);
    this.release();
  }

  /** Adds one entry's effects to `batch` (decode errors throw: the caller's fatal path). */
  private applyEntry(batch: Batch, e: Entry): void {
    if (e.type === EntryType.ConfChange) {
      const change = decodeMemberChange(e.data);
      batch.members = applyMemberChange(batch.members, change, e.index);
      batch.ops.push({ op: 'put', key: MEMBERS_KEY, value: encodeRecord(batch.members) });
      batch.results.push({ index: e.index, origin: change.origin, seq: change.seq, change, result: { kind: 'member', index: e.index, members: batch.members } });
      return;
    }
    invariant(e.type === EntryType.Normal, () => `entry ${e.index} has unknown type ${String(e.type)}`);
    const command = decodeCommand(e.data);
    const answer = (result: ApplyResult) => batch.results.push({ index: e.index, origin: command.origin, seq: command.seq, result });
    const lookup = (key: string): Current => {
      const written = batch.overlay.get(key);
      return written !== undefined ? written : this.read(key);
    };
    if (command.atMs !== undefined) this.idem.advance(command.atMs, batch.ops);
    if (command.op === Op.Session) {
      answer({ kind: 'session', session: this.idem.openSession(e.index, batch.ops) });
    } else if (command.op === Op.Batch) {
      const items = command.items!;
      const once = (it: BatchItem, i: number) => this.exactlyOnce(it.idem === undefined ? undefined : { key: it.idem, print: keyPrint(it) }, e.index, i, batch, () => applyKeyCommand(it, e.index, lookup, batch, command.atMs));
      const applyItems = (): BatchResult => ({ kind: 'batch', results: items.map(once) });
      if (command.idem === undefined) answer(applyItems());
      else {
        // One key for the batch, one kept answer: its items carry none (the API refuses both).
        invariant(items.every((it) => it.idem === undefined), () => `entry ${e.index}: a keyed batch has keyed items`);
        answer(this.exactlyOnce({ key: command.idem, print: printBytes(command.itemsRaw!) }, e.index, 0, batch, applyItems, BATCH_KEPT));
      }
    } else if (command.op === Op.Publish || command.op === Op.Alarm) {
      // Not a configuration change: where clients reach a member, or its disk alarm (no-op for non-members).
      const [id, client] = command.key.split(' ');
      batch.members = command.op === Op.Alarm ? applyAlarm(batch.members, command.key, e.index) : publishClient(batch.members, Number(id), client ?? '');
      batch.ops.push({ op: 'put', key: MEMBERS_KEY, value: encodeRecord(batch.members) });
      answer({ kind: 'published', index: e.index });
    } else if (command.op === Op.Hash) {
      answer({ kind: 'hashed', index: e.index }); // (digested as its batch, which it ends, is published)
    } else if (command.op === Op.MdPurge) {
      // It reads the engine: every entry before it must be there (see splitForApply).
      invariant(batch.results.length === 0, () => `entry ${e.index}: a market-data purge not first in its write batch`);
      answer(this.market.purge(this.engine, BigInt(command.key), batch.ops));
    } else if (command.op === Op.MdIngest) {
      answer(this.market.apply(command.md!, e.index, batch.ops));
    } else if (command.op === Op.Auth) {
      answer(this.auth.apply(decodeAuthChange(command), batch.ops));
    } else if (command.op === Op.Expire) {
      answer(expireKeys(command.atMs!, e.index, lookup, batch));
    } else if (command.op === Op.DeleteRange) {
      const idem = command.idem === undefined ? undefined : { key: command.idem, print: fingerprint([Op.DeleteRange, command.key, command.limit]) };
      answer(this.exactlyOnce(idem, e.index, 0, batch, () => deleteRange(command.key, command.limit!, e.index, this.engine, batch)));
    } else {
      const idem = command.idem === undefined ? undefined : { key: command.idem, print: command.op === Op.Txn ? txnPrint(command.txn!) : keyPrint(command) };
      answer(this.exactlyOnce(idem, e.index, 0, batch, () => (command.op === Op.Txn ? applyTxn(command.txn!, e.index, lookup, batch, command.atMs) : applyKeyCommand(command, e.index, lookup, batch, command.atMs))));
    }
  }

  /**
   * Applies one KV write or a keyed batch (`apply`) unless its idempotency key was seen: a retry
   * gets the first answer again, a refused key (expired session, dropped key) applies nothing.
   * `apply` adds the write's own KV changes for the watchers; the idempotency records (reserved
   * keys) are not. `kept`: how the answer is kept in the key's record (a batch's: as runs).
   */
  private exactlyOnce<R extends WriteResult | BatchResult>(idem: { key: string; print: string } | undefined, index: number, position: number, batch: Batch, apply: () => R, kept: Kept<R> = AS_IS as Kept<R>): R | WriteResult {
    if (idem !== undefined) {
      const gate = this.idem.gate<unknown>(idem.key, idem.print, this.engine);
      if (gate.kind === 'replay') return { ...kept.restore(gate.result), replayed: true };
      if (gate.kind === 'refused') return { kind: 'refused', code: gate.code, message: gate.message };
    }
    const result = apply();
    if (idem !== undefined) this.idem.remember(idem.key, idem.print, kept.keep(result), index, position, batch.ops);
    return result;
  }

  /**
   * Each user key's answer item in `shape` (undefined: absent) at the applied index: from the
   * read cache, misses from the engine (a promise only when they must wait behind the gate).
   */
  readItems(keys: readonly string[], shape: ItemShape): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]> {
    return this.gated((engineAllowed) => this.engine.cacheItems(keys, shape, engineAllowed));
  }

  /**
   * One key's item and its TTL's expiry (undefined: none), from one applied state: read in one
   * turn with the gate open (the TTLs in memory change in the turn that writes or closes the gate
   * for their batch, and are published with it).
   */
  readWithExpiry(key: string, shape: ItemShape): [string | undefined, number | undefined] | Promise<[string | undefined, number | undefined]> {
    return this.gated((engineAllowed) => {
      if (!engineAllowed) return undefined;
      // (As text at once: the addon answers in a buffer the next read reuses.)
      const [item] = this.engine.cacheItems([key], shape, true)!;
      return [item?.toString('utf8'), this.ttl.expiryOf(key)];
    });
  }

  /** `readItems` as the whole multi-get answer in `layout` (the API's general path). */
  answerItems(keys: readonly string[], layout: AnswerLayout): Buffer | Promise<Buffer> {
    return this.gated((engineAllowed) => this.engine.cacheAnswer(keys, layout, engineAllowed));
  }

  /**
   * `read` now, engine reads allowed unless the gate is closed; undefined (a miss behind the
   * gate): all of it again once the pooled batch is published — hits now and misses later could
   * mix states.
   */
  private gated<T>(read: (engineAllowed: boolean) => T | undefined): T | Promise<T> {
    const closed = this.gate.closed;
    return read(closed === undefined) ?? closed!.then(() => this.gated(read));
  }

  /**
   * The whole answer to a multi-get body in the compact shape clients send, at the applied
   * index; undefined: the caller takes its general path (another body shape, a key it refuses,
   * or a miss while engine reads wait behind the gate).
   */
  multiGetAnswer(body: Buffer, layout: AnswerLayout): Buffer | undefined {
    return this.engine.cacheMultiGet(body, layout, this.gate.closed === undefined);
  }

  /** A page of the engine's keys, at the applied index (never part of a batch not yet published). */
  scan(options: ScanOptions): Promise<{ items: KeyValue[]; more: boolean }> {
    return this.gate.poolRead(() => this.engine.scan(options));
  }

  /** The keys of `scan`'s range counted (at most `limit`), at the applied index. */
  count(options: ScanOptions): Promise<RangeCount> {
    return this.gate.poolRead(() => this.engine.count(options));
  }

  private read(key: string): { revision: number; value: Buffer } | null {
    const stored = this.engine.get(key);
    return stored ? decodeStored(stored) : null;
  }

  private release(): void {
    let kept = 0;
    for (const w of this.waiters) {
      if (w.index <= this.appliedIndex) w.resolve();
      else this.waiters[kept++] = w;
    }
    this.waiters.length = kept;
  }
}

/** An `Op.Auth` command's change (malformed JSON: COMMAND_INVALID, the fatal path). */
function decodeAuthChange(command: Command): AuthChange {
  let rest: unknown;
  try {
    rest = JSON.parse((command.value ?? Buffer.alloc(0)).toString('utf8'));
  } catch (err) {
    throw new QuorumError('COMMAND_INVALID', `malformed auth change: ${(err as Error).message}`);
  }
  return { ...(rest as object), action: command.key } as AuthChange;
}

/** What a key write is, for telling a retry from another write reusing its key (a single write and a batch item alike). */
function keyPrint(c: BatchItem | Command): string {
  if ('raw' in c && c.raw) return printBytes(c.raw);
  invariant(c.op === Op.Put || c.op === Op.Delete || c.op === Op.Incr || c.op === Op.SetTtl, () => `op ${c.op} is not a key write`);
  return printBytes(itemBytes({ op: c.op, key: c.key, value: c.value, ifRevision: c.ifRevision, idem: c.idem, ttlMs: c.ttlMs }));
}

function txnPrint(txn: Txn): string {
  // (A put's TTL only when it has one: a txn without TTLs keeps the print it always had.)
  const ops = (list: Txn['success']) => list.flatMap((o) => [o.kind, o.key, o.kind === 'put' ? o.value : undefined, ...(o.kind === 'put' && o.ttlMs !== undefined ? ['ttl', o.ttlMs] : []), ...(o.kind === 'incr' ? ['by', o.by] : [])]);
  const compares = txn.compare.flatMap((c) => [c.key, c.revision, c.value, c.exists === undefined ? undefined : String(c.exists)]);
  return fingerprint([Op.Txn, txn.compare.length, ...compares, txn.success.length, ...ops(txn.success), txn.failure.length, ...ops(txn.failure)]);
}

/** How an answer is kept in its idempotency record, and read back (a keyed batch's: as runs). */
interface Kept<R> {
  keep(result: R): unknown;
  restore(kept: unknown): R;
}
const AS_IS: Kept<unknown> = { keep: (r) => r, restore: (k) => k };
const BATCH_KEPT: Kept<BatchResult> = { keep: keepBatch, restore: (k) => restoreBatch(k as KeptBatch) };

/** What one applied batch builds up: engine ops, the keys it changed, answers, membership. */
export interface Batch {
  ops: EngineOp[];
  /** Keys written earlier in this batch, which later entries must see. */
  overlay: Overlay;
  results: Applied[];
  members: MembersRecord;
  /** The KV changes, in apply order (published once the batch is durable). */
  changes: KvChange[];
  /** Keys with a TTL: every write of a key ends or sets its TTL in the same batch. */
  ttl: KeyTtl;
}

/** A put, delete or increment, conditional on the key's revision when `ifRevision` is set; a put may set a TTL. */
function applyKeyCommand(command: Pick<Command, 'op' | 'key' | 'value' | 'ifRevision' | 'ttlMs'>, index: number, lookup: (key: string) => Current, batch: Batch, atMs: number | undefined): WriteResult {
  // A plain put does not depend on the current value: skip the read (the common case).
  const needsCurrent = command.ifRevision !== undefined || command.op !== Op.Put;
  const current = needsCurrent ? lookup(command.key) : null;
  const currentRevision = current?.revision ?? 0;
  if (command.ifRevision !== undefined && command.ifRevision !== currentRevision) return { kind: 'mismatch', currentRevision };
  if (command.op === Op.Incr) return applyIncr(command, index, current, batch, atMs);
  if (command.op === Op.SetTtl) return applySetTtl(command, index, current, batch, atMs);
  if (command.op === Op.Put) {
    const ttl = command.ttlMs;
    if (ttl !== undefined && batch.ttl.full(command.key)) return { ...TTL_LIMIT_REFUSAL };
    putKey(batch, command.key, command.value ?? Buffer.alloc(0), index);
    if (ttl === undefined) return { kind: 'put', revision: index };
    invariant(atMs !== undefined, () => `entry ${index}: a TTL without its time`);
    const expiresAtMs = atMs + ttl;
    batch.ttl.set(command.key, expiresAtMs, batch.ops);
    return { kind: 'put', revision: index, expiresAtMs };
  }
  if (current) deleteKey(batch, command.key, index);
  return { kind: 'delete', deleted: current !== null, revision: index };
}

/** Writes `key` in the batch: the overlay, the engine op, the change for watchers; its TTL ends. */
function putKey(batch: Batch, key: string, value: Buffer, index: number): void {
  batch.overlay.put(key, index, value);
  batch.ops.push({ op: 'put', key, value, revision: index });
  batch.changes.push({ revision: index, type: 'put', key, value });
  batch.ttl.clear(key, batch.ops);
}

/** Deletes `key` (which exists) in the batch; its TTL ends. */
function deleteKey(batch: Batch, key: string, index: number): void {
  batch.overlay.delete(key);
  batch.ops.push({ op: 'delete', key });
  batch.changes.push({ revision: index, type: 'delete', key });
  batch.ttl.clear(key, batch.ops);
}

/** Deletes the keys whose TTL ended by `atMs` (the first `EXPIRE_KEYS_MAX` by expiry). */
function expireKeys(atMs: number, index: number, lookup: (key: string) => Current, batch: Batch): ApplyResult {
  const due = batch.ttl.due(atMs, EXPIRE_KEYS_MAX);
  for (const key of due) {
    // (A key's TTL ends with any write of it: a key with a TTL exists.)
    invariant(lookup(key) !== null, () => `entry ${index}: ${key} has a TTL and no value`);
    deleteKey(batch, key, index);
  }
  batch.ttl.expiredTotal += due.length;
  return { kind: 'expired', deleted: due.length };
}

/** Evaluates every compare, then runs one branch; later ops see earlier ones (via the overlay). */
function applyTxn(txn: Txn, index: number, lookup: (key: string) => Current, batch: Batch, atMs: number | undefined): WriteResult {
  const succeeded = txn.compare.every((c) => compareHolds(c, lookup(c.key)));
  const branch = succeeded ? txn.success : txn.failure;
  // All or nothing: a branch whose TTLs would pass the limit applies none of its ops.
  const newTtls = branch.filter((op) => op.kind === 'put' && op.ttlMs !== undefined && !batch.ttl.has(op.key)).length;
  if (newTtls > 0 && batch.ttl.size + newTtls > TTL_KEYS_MAX) return { ...TTL_LIMIT_REFUSAL };
  // And a branch with an increment that cannot be added: no op before it sees its key (a branch
  // writes a key at most once), so each is checked against the value the branch starts from.
  const sums = new Map<string, number>();
  for (const op of branch) {
    if (op.kind !== 'incr') continue;
    const added = increment(op.key, op.by, lookup(op.key));
    if (!('next' in added)) return added;
    sums.set(op.key, added.next);
  }
  const results: TxnOpResult[] = [];
  for (const op of branch) {
    const current = lookup(op.key);
    if (op.kind === 'get') {
      results.push(current ? { op: 'get', key: op.key, found: true, value: current.value, revision: current.revision } : { op: 'get', key: op.key, found: false });
    } else if (op.kind === 'incr') {
      const next = sums.get(op.key)!;
      writeCounter(batch, op.key, next, index);
      results.push({ op: 'incr', key: op.key, value: next });
    } else if (op.kind === 'put') {
      putKey(batch, op.key, op.value, index);
      if (op.ttlMs === undefined) results.push({ op: 'put', key: op.key, revision: index });
      else {
        invariant(atMs !== undefined, () => `entry ${index}: a txn TTL without its time`);
        batch.ttl.set(op.key, atMs + op.ttlMs, batch.ops);
        results.push({ op: 'put', key: op.key, revision: index, expiresAtMs: atMs + op.ttlMs });
      }
    } else {
      if (current) deleteKey(batch, op.key, index);
      results.push({ op: 'delete', key: op.key, deleted: current !== null });
    }
  }
  return { kind: 'txn', succeeded, revision: index, results };
}

/**
 * Deletes the first `limit` user keys starting with `prefix`, as this batch has left them: the
 * engine's keys (as of the batches before) less the ones this batch wrote, plus the ones it put
 * (and has not deleted since). `more`: keys may be left (a caller deletes again until false).
 */
function deleteRange(prefix: string, limit: number, index: number, engine: Engine, batch: Batch): WriteResult {
  const written = batch.overlay.withPrefix(prefix);
  // At most `written.size` of the engine's keys are written by this batch: reading that many
  // more finds `limit` others when the engine holds them.
  const after = prefix === '' ? RESERVED_KEYS_END : undefined;
  const page = engine.scanNow({ prefix, after, limit: limit + written.size, keysOnly: true });
  const stored = written.size === 0 ? page.items.map((kv) => kv.key) : page.items.filter((kv) => !written.has(kv.key.toString('utf8'))).map((kv) => kv.key);
  // (The overlay holds user keys only: reserved ones are written as engine ops, not through it.)
  const put = [...written].filter(([k, current]) => current !== null && !k.startsWith(RESERVED_KEY_PREFIX)).map(([k]) => Buffer.from(k, 'utf8'));
  // Both in the engine's order (bytes), so the first `limit` of the merge are the range's first.
  const keys = put.length === 0 ? stored : mergeSorted(stored, put.sort(Buffer.compare));
  const chosen = keys.length > limit ? keys.slice(0, limit) : keys;
  if (chosen.length === 0) return { kind: 'range', deleted: 0, more: page.more, revision: index };
  // One range tombstone from the range's start to just past the last key chosen: every live
  // key below that end is chosen, so it deletes nothing else, and later scans of the range skip
  // it in one seek (point tombstones were each stepped over by every later part: the hundredth
  // part of a 100K-key delete took 5× the first). Keys this batch put get point deletes too:
  // the engine sorts a batch by key, which may place their puts after the range's start.
  const start = prefix === '' ? USER_KEYS_START : Buffer.from(prefix, 'utf8');
  batch.ops.push({ op: 'deleteRange', key: start, end: Buffer.concat([chosen[chosen.length - 1], ZERO_BYTE]) });
  const wrote = new Set<Buffer>(put);
  for (const bytes of chosen) {
    const key = bytes.toString('utf8');
    batch.overlay.delete(key);
    batch.ops.push({ op: wrote.has(bytes) ? 'delete' : 'uncache', key: bytes });
    batch.changes.push({ revision: index, type: 'delete', key });
    batch.ttl.clear(key, batch.ops);
  }
  return { kind: 'range', deleted: chosen.length, more: keys.length > limit || page.more, revision: index };
}

/** Every user key sorts at or after this (reserved keys start with NUL). */
const USER_KEYS_START = Buffer.from([1]);
const ZERO_BYTE = Buffer.from([0]);

/** Two lists of distinct keys, each in byte order, as one in byte order. */
function mergeSorted(a: Buffer[], b: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(Buffer.compare(a[i], b[j]) <= 0 ? a[i++] : b[j++]);
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}
