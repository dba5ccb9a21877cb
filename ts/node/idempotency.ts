/**
 * Exactly-once writes: the Raft dissertation's client sessions (§6.3) and the `Idempotency-Key`
 * header. Replicated state, changed only by applying entries, so every node decides alike:
 *
 *   \0idem/k/<key>       {"t": clockMs, "o": order, "f": fingerprint, "r": <the first answer>}
 *   \0idem/s/<session>   {"t": lastActiveMs, "o": order, "e": evictedUpToSeq}   an open session
 *   \0idem/clock         the state machine's clock (ms, decimal)
 *
 * The clock is the largest proposer wall-clock time (`atMs`) any applied entry carried — never a
 * replica's own clock — so expiry is the same on every node, across restarts and snapshots (the
 * keys are ordinary engine keys: checkpoints carry them). `o` (entry index × 2^16 + position in
 * the entry) orders records of equal time, so a node that reloads them drops the same ones.
 *
 * Limits (constants: they are part of the state machine, every node must use the same):
 * keys are kept `KEY_TTL_MS` and at most `KEYS_MAX` (oldest dropped first); sessions expire
 * `SESSION_IDLE_MS` after their last write and at most `SESSIONS_MAX` are kept (least recently
 * active dropped first).
 *
 * Keys `s<index>:<seq>` belong to session `s<index>` (opened through the log): a write of an
 * unknown session (expired, or never opened) is refused `session_expired`; a key of it already
 * dropped (seq at or below the session's eviction mark) is refused `idempotency_key_expired` —
 * in neither case is anything applied. Other keys are opaque: once dropped, they are forgotten.
 * A key repeated with a different request (its fingerprint: a hash of the write itself) is
 * refused `idempotency_key_reused` — a client bug, never answered with another write's answer.
 */
import { hash } from 'node:crypto';
import type { Engine, EngineOp } from '../native';
import { invariant } from '../raft/assert';
import { scanPrefix } from '../market/state';

export const KEY_TTL_MS = 10 * 60_000;
export const KEYS_MAX = 100_000;
export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSIONS_MAX = 10_000;
export const IDEMPOTENCY_KEY_BYTES_MAX = 128;

export interface IdempotencyLimits {
  keyTtlMs: number;
  keysMax: number;
  sessionIdleMs: number;
  sessionsMax: number;
}

export const IDEMPOTENCY_LIMITS: IdempotencyLimits = { keyTtlMs: KEY_TTL_MS, keysMax: KEYS_MAX, sessionIdleMs: SESSION_IDLE_MS, sessionsMax: SESSIONS_MAX };

const P = '\u0000idem/';
const KEY = (k: string) => `${P}k/${k}`;
const SESSION = (s: string) => `${P}s/${s}`;
const CLOCK = `${P}clock`;
const SESSION_KEY = /^(s\d+):(\d+)$/;

export type Refusal = { code: 'session_expired' | 'idempotency_key_expired' | 'idempotency_key_reused'; message: string };
export type Gate<R> = { kind: 'new' } | { kind: 'replay'; result: R } | ({ kind: 'refused' } & Refusal);

interface Session {
  /** Last write (clock ms), and its order. */
  t: number;
  o: number;
  /** The highest seq of this session whose key was dropped. */
  e: number;
}

interface KeyRecord {
  t: number;
  o: number;
  f: string;
  r: unknown;
}

/** JSON with Buffers (txn values) kept exact. */
const encodeRecord = (rec: KeyRecord): string => JSON.stringify(rec);
const decodeRecord = (text: string): KeyRecord =>
  JSON.parse(text, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data) : v)) as KeyRecord;

/** A write's fingerprint: the same parts (op, key, value, condition...) give the same text. */
export function fingerprint(parts: readonly (string | number | Buffer | undefined)[]): string {
  // One buffer, one hash call (a Hash object per write cost ~3× as much). Each part is typed
  // and length-prefixed, so different part lists never concatenate to the same bytes.
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if (p === undefined) chunks.push(UNDEFINED_PART);
    else if (Buffer.isBuffer(p)) chunks.push(Buffer.from(`b${p.length};`), p);
    else {
      const text = String(p);
      chunks.push(Buffer.from(`${typeof p === 'number' ? 'n' : 's'}${Buffer.byteLength(text)};${text}`));
    }
  }
  return hash('sha256', Buffer.concat(chunks), 'base64url').slice(0, 22);
}

const UNDEFINED_PART = Buffer.from('u;');

/** Records of equal time are ordered by entry index, then position in the entry. */
function order(index: number, position: number): number {
  return index * 65536 + position;
}

export class IdempotencyTable {
  private clockMs = 0;
  private clockMoved = false;
  /** Kept keys, for lookups (their expiry order is `keyQueue`). */
  private readonly keys = new Set<string>();
  /** Kept keys in the order they expire (apply order); `keys` holds them for lookups. */
  private readonly keyQueue = new OrderQueue();
  private readonly sessions = new Map<string, Session>();
  /**
   * Sessions least recently active first, one entry per touch: an entry whose order is no
   * longer its session's is stale and skipped (cheaper than re-inserting into a Map, whose
   * iteration walks the holes deletes leave).
   */
  private readonly sessionQueue = new OrderQueue();
  /** Answers recorded in the batch being applied (not in the engine yet). */
  private readonly pending = new Map<string, string>();
  /** Sessions changed in this batch: written once each at its end, not once per write. */
  private readonly dirty = new Set<string>();

  constructor(private readonly limits: IdempotencyLimits = IDEMPOTENCY_LIMITS) {}

  get clock(): number {
    return this.clockMs;
  }

  get size(): { keys: number; sessions: number } {
    return { keys: this.keys.size, sessions: this.sessions.size };
  }

  /** Replaces everything with what `engine` holds (at start, and after a snapshot install). */
  async load(engine: Engine): Promise<void> {
    this.keys.clear();
    this.keyQueue.clear();
    this.sessions.clear();
    this.sessionQueue.clear();
    this.pending.clear();
    this.dirty.clear();
    const clock = engine.get(CLOCK);
    this.clockMs = clock ? Number(clock.toString()) : 0;
    const keys: [string, { t: number; o: number }][] = [];
    for await (const [k, v] of scanPrefix(engine, `${P}k/`)) keys.push([k.slice(P.length + 2), JSON.parse(v.toString()) as { t: number; o: number }]);
    keys.sort((a, b) => a[1].t - b[1].t || a[1].o - b[1].o);
    for (const [k, rec] of keys) {
      this.keys.add(k);
      this.keyQueue.push(k, rec.t, rec.o);
    }
    const sessions: [string, Session][] = [];
    for await (const [k, v] of scanPrefix(engine, `${P}s/`)) sessions.push([k.slice(P.length + 2), JSON.parse(v.toString()) as Session]);
    sessions.sort((a, b) => a[1].t - b[1].t || a[1].o - b[1].o);
    for (const [s, rec] of sessions) {
      this.sessions.set(s, rec);
      this.sessionQueue.push(s, rec.t, rec.o);
    }
  }

  /** An entry proposed at `atMs` is being applied: move the clock and drop what expired. */
  advance(atMs: number, ops: EngineOp[]): void {
    if (atMs > this.clockMs) {
      this.clockMs = atMs;
      this.clockMoved = true;
    }
    this.sweep(ops);
  }

  /** Opens session `s<index>` (a registration entry at `index`). */
  openSession(index: number, ops: EngineOp[]): string {
    const id = `s${index}`;
    this.touch(id, { t: this.clockMs, o: order(index, 0), e: 0 });
    this.sweep(ops);
    return id;
  }

  /** What to do with a write carrying `key`: apply it, answer with its first answer, or refuse. */
  gate<R>(key: string, print: string, engine: Engine): Gate<R> {
    if (this.keys.has(key)) {
      const text = this.pending.get(key) ?? engine.get(KEY(key))?.toString();
      invariant(text !== undefined, () => `idempotency key ${key} is kept but has no stored answer`);
      const rec = decodeRecord(text);
      if (rec.f !== print) return { kind: 'refused', code: 'idempotency_key_reused', message: `${key} was used for a different write; use a new key per write` };
      return { kind: 'replay', result: rec.r as R };
    }
    const session = SESSION_KEY.exec(key);
    if (!session) return { kind: 'new' };
    const rec = this.sessions.get(session[1]);
    if (!rec) return { kind: 'refused', code: 'session_expired', message: `session ${session[1]} expired or was never opened: open a new one (if this was a retry, its outcome is unknown)` };
    if (Number(session[2]) <= rec.e) return { kind: 'refused', code: 'idempotency_key_expired', message: `the answer to ${key} is no longer kept; its outcome is unknown` };
    return { kind: 'new' };
  }

  /** A write with `key` (entry `index`, item `position` in it) was applied: keep its answer. */
  remember(key: string, print: string, result: unknown, index: number, position: number, ops: EngineOp[]): void {
    invariant(!this.keys.has(key), () => `idempotency key ${key} applied twice`);
    const o = order(index, position);
    const text = encodeRecord({ t: this.clockMs, o, f: print, r: result });
    this.keys.add(key);
    this.keyQueue.push(key, this.clockMs, o);
    this.pending.set(key, text);
    ops.push({ op: 'put', key: KEY(key), value: Buffer.from(text) });
    const session = SESSION_KEY.exec(key);
    const rec = session && this.sessions.get(session[1]);
    if (rec) this.touch(session[1], { ...rec, t: this.clockMs, o });
    this.sweep(ops);
  }

  /** The batch's ops are complete: persist the sessions it changed, and the clock if it moved. */
  finishBatch(ops: EngineOp[]): void {
    for (const id of this.dirty) ops.push({ op: 'put', key: SESSION(id), value: Buffer.from(JSON.stringify(this.sessions.get(id)!)) });
    this.dirty.clear();
    if (this.clockMoved) ops.push({ op: 'put', key: CLOCK, value: Buffer.from(String(this.clockMs)) });
    this.clockMoved = false;
    this.pending.clear();
  }

  private touch(id: string, rec: Session): void {
    this.sessions.set(id, rec);
    this.sessionQueue.push(id, rec.t, rec.o);
    this.dirty.add(id);
  }

  /** Drops keys past their TTL or beyond the count, and idle or surplus sessions (oldest first). */
  private sweep(ops: EngineOp[]): void {
    const { keyTtlMs, keysMax, sessionIdleMs, sessionsMax } = this.limits;
    for (let q = this.keyQueue.peek(); q; q = this.keyQueue.peek()) {
      if (q.t > this.clockMs - keyTtlMs && this.keys.size <= keysMax) break;
      this.keyQueue.pop();
      this.dropKey(q.id, ops);
    }
    for (let q = this.sessionQueue.peek(); q; q = this.sessionQueue.peek()) {
      const rec = this.sessions.get(q.id);
      if (rec?.o === q.o) {
        if (rec.t > this.clockMs - sessionIdleMs && this.sessions.size <= sessionsMax) break;
        this.sessions.delete(q.id);
        this.dirty.delete(q.id);
        ops.push({ op: 'delete', key: SESSION(q.id) });
      }
      this.sessionQueue.pop();
    }
  }

  private dropKey(key: string, ops: EngineOp[]): void {
    this.keys.delete(key);
    this.pending.delete(key);
    ops.push({ op: 'delete', key: KEY(key) });
    if (!key.startsWith('s')) return;
    const session = SESSION_KEY.exec(key);
    const rec = session && this.sessions.get(session[1]);
    if (rec && Number(session[2]) > rec.e) {
      // Updated in place: the drop mark is not activity (the session keeps its place).
      rec.e = Number(session[2]);
      this.dirty.add(session[1]);
    }
  }
}

interface Queued {
  id: string;
  t: number;
  o: number;
}

/** A FIFO of (id, time, order) with O(1) amortized pops (compacted once half is consumed). */
class OrderQueue {
  private items: Queued[] = [];
  private head = 0;

  push(id: string, t: number, o: number): void {
    this.items.push({ id, t, o });
  }

  peek(): Queued | undefined {
    return this.items[this.head];
  }

  pop(): void {
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

}
