/**
 * Exactly-once writes: the Raft dissertation's client sessions (§6.3) and the `Idempotency-Key`
 * header. Replicated state, changed only by applying entries, so every node decides alike:
 *
 *   \0idem/g/<entry index>  the answers of the keyed writes one entry applied (see
 *                           idempotency_records.ts: one record per entry, not per key)
 *   \0idem/s/<session>      {"t": lastActiveMs, "o": order, "e": evictedUpToSeq}   an open session
 *   \0idem/clock            the state machine's clock (ms, decimal)
 *
 * The clock is the largest proposer wall-clock time (`atMs`) any applied entry carried — never a
 * replica's own clock — so expiry is the same on every node, across restarts and snapshots (the
 * records are ordinary engine keys: checkpoints carry them). `o` (entry index × 2^16 + position in
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
import type { Engine, EngineOp } from '../native';
import { invariant } from '../raft/assert';
import { scanPrefix } from '../market/state';
import { KeySlots } from './idempotency_slots';
import { Fifo, type Group, GROUP_PREFIX, groupAnswers, IDEM_PREFIX, LEGACY_KEY_PREFIX, loadGroup, loadLegacy, openGroup, order, sealGroup } from './idempotency_records';

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

const SESSION = (s: string) => `${IDEM_PREFIX}s/${s}`;
const CLOCK = `${IDEM_PREFIX}clock`;

export type Refusal = { code: 'session_expired' | 'idempotency_key_expired' | 'idempotency_key_reused'; message: string };
export type Gate<R> = { kind: 'new' } | { kind: 'replay'; result: R } | ({ kind: 'refused' } & Refusal);

interface Session {
  /** Last write (clock ms), and its order. */
  t: number;
  o: number;
  /** The highest seq of this session whose key was dropped. */
  e: number;
  /**
   * Not stored (this node's own filter): at least the highest seq of the session's kept keys,
   * and at least `e`. A key with a higher seq was never applied: no lookup needed.
   */
  m: number;
}

/** A session's stored record (`m` is not part of it). */
const sessionRecord = (s: Session): string => JSON.stringify({ t: s.t, o: s.o, e: s.e });

const NEW: { kind: 'new' } = { kind: 'new' };

/** `s<digits>:<digits>` → [session, seq]; other keys (opaque) → undefined. No regex: once per write. */
function sessionKey(key: string): [string, number] | undefined {
  if (key.charCodeAt(0) !== 0x73) return undefined;
  const colon = key.indexOf(':');
  if (colon < 2 || colon === key.length - 1) return undefined;
  for (let i = 1; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (i !== colon && (c < 0x30 || c > 0x39)) return undefined;
  }
  return [key.slice(0, colon), Number(key.slice(colon + 1))];
}

export class IdempotencyTable {
  private clockMs = 0;
  private clockMoved = false;
  /** Kept keys, for lookups. */
  private readonly slots = new KeySlots();
  /** Groups in the order their keys expire (apply order); the head may be partly dropped. */
  private readonly groups = new Fifo<Group>();
  /** The group of the entry being applied (sealed and written when the next entry or the batch ends). */
  private open: Group | undefined;
  /** The last group decoded to answer a retry (a retried batch asks for its keys one by one). */
  private decoded: { g: Group; answers: { prints: string[]; results: unknown[] } } | undefined;
  private readonly sessions = new Map<string, Session>();
  /**
   * Sessions least recently active first, one queue item per log entry that wrote through it:
   * an item whose order is no longer its session's is stale and skipped (cheaper than
   * re-inserting into a Map, whose iteration walks the holes deletes leave).
   */
  private readonly sessionQueue = new Fifo<{ id: string; t: number; o: number }>();
  /** Sessions changed in this batch: written once each at its end, not once per write. */
  private readonly dirty = new Set<string>();
  /**
   * Sessions opened or written through by the entry being applied: queued once each when it
   * ends (at the next entry that touches this table, or the batch's end — never later than
   * anything reads the queue, so where batches split the log changes nothing).
   */
  private readonly active = new Set<string>();
  /** Groups sealed in this batch and the one before (whose answers are still held as text). */
  private sealed: Group[] = [];
  private sealedBefore: Group[] = [];

  constructor(private readonly limits: IdempotencyLimits = IDEMPOTENCY_LIMITS) {}

  get clock(): number {
    return this.clockMs;
  }

  get size(): { keys: number; sessions: number } {
    return { keys: this.slots.size, sessions: this.sessions.size };
  }

  /** Replaces everything with what `engine` holds (at start, and after a snapshot install). */
  async load(engine: Engine): Promise<void> {
    this.slots.clear();
    this.groups.clear();
    this.open = undefined;
    this.decoded = undefined;
    this.sessions.clear();
    this.sessionQueue.clear();
    this.dirty.clear();
    this.active.clear();
    this.sealed = [];
    this.sealedBefore = [];
    const clock = engine.get(CLOCK);
    this.clockMs = clock ? Number(clock.toString()) : 0;
    const groups: Group[] = [];
    for await (const [k, v] of scanPrefix(engine, GROUP_PREFIX)) groups.push(loadGroup(k, v.toString()));
    for await (const [k, v] of scanPrefix(engine, LEGACY_KEY_PREFIX)) groups.push(loadLegacy(k, v.toString()));
    groups.sort((a, b) => a.t - b.t || order(a.index, a.positions[0]) - order(b.index, b.positions[0]));
    for (const g of groups) {
      this.groups.push(g);
      g.keys.forEach((key, i) => this.slots.set(key, sessionKey(key), { g, i }));
    }
    // Keys dropped by count from a group still kept (only the oldest can be): dropped again.
    for (let g = this.groups.peek(); g && this.slots.size > this.limits.keysMax; g.dropped++) {
      invariant(g.dropped < g.keys.length - 1, () => `idempotency group ${g.index} is kept with none of its keys`);
      this.slots.delete(g.keys[g.dropped], sessionKey(g.keys[g.dropped]));
    }
    const sessions: [string, Session][] = [];
    for await (const [k, v] of scanPrefix(engine, `${IDEM_PREFIX}s/`)) {
      const rec = JSON.parse(v.toString()) as Omit<Session, 'm'>;
      sessions.push([k.slice(IDEM_PREFIX.length + 2), { t: rec.t, o: rec.o, e: rec.e, m: rec.e }]);
    }
    sessions.sort((a, b) => a[1].t - b[1].t || a[1].o - b[1].o);
    for (const [s, rec] of sessions) {
      this.sessions.set(s, rec);
      this.sessionQueue.push({ id: s, t: rec.t, o: rec.o });
    }
    for (const g of groups) for (let i = g.dropped; i < g.keys.length; i++) this.noteSeq(g.keys[i]);
  }

  /** Raises the seq filter of the key's session (if it is a session key of a kept session). */
  private noteSeq(key: string): void {
    const session = sessionKey(key);
    const rec = session && this.sessions.get(session[0]);
    if (rec && session![1] > rec.m) rec.m = session![1];
  }

  /** An entry proposed at `atMs` is being applied: move the clock and drop what expired. */
  advance(atMs: number, ops: EngineOp[]): void {
    this.endEntry(ops);
    if (atMs > this.clockMs) {
      this.clockMs = atMs;
      this.clockMoved = true;
    }
    this.sweep(ops);
  }

  /** Opens session `s<index>` (a registration entry at `index`). */
  openSession(index: number, ops: EngineOp[]): string {
    this.endEntry(ops);
    const id = `s${index}`;
    this.sessions.set(id, { t: this.clockMs, o: order(index, 0), e: 0, m: 0 });
    this.dirty.add(id);
    this.active.add(id);
    this.sweep(ops);
    return id;
  }

  /** What to do with a write carrying `key`: apply it, answer with its first answer, or refuse. */
  gate<R>(key: string, print: string, engine: Engine): Gate<R> {
    const session = sessionKey(key);
    const rec = session && this.sessions.get(session[0]);
    // A live session's key past every seq it applied is new (the common case: no lookup).
    if (rec && session![1] > rec.m) return NEW;
    const slot = this.slots.get(key, session);
    if (slot) {
      const { prints, results } = this.answers(slot.g, engine);
      if (prints[slot.i] !== print) return { kind: 'refused', code: 'idempotency_key_reused', message: `${key} was used for a different write; use a new key per write` };
      return { kind: 'replay', result: results[slot.i] as R };
    }
    if (!session) return NEW;
    if (!rec) return { kind: 'refused', code: 'session_expired', message: `session ${session[0]} expired or was never opened: open a new one (if this was a retry, its outcome is unknown)` };
    if (session[1] <= rec.e) return { kind: 'refused', code: 'idempotency_key_expired', message: `the answer to ${key} is no longer kept; its outcome is unknown` };
    return NEW;
  }

  /** A write with `key` (entry `index`, item `position` in it) was applied: keep its answer. */
  remember(key: string, print: string, result: unknown, index: number, position: number, ops: EngineOp[]): void {
    const session = sessionKey(key);
    const rec = session && this.sessions.get(session[0]);
    // A key past its session's highest applied seq is not kept (the gate's filter); else look.
    invariant((rec && session![1] > rec.m) || this.slots.get(key, session) === undefined, () => `idempotency key ${key} applied twice`);
    if (this.open && this.open.index !== index) this.endEntry(ops);
    let g = this.open;
    if (!g) {
      g = this.open = openGroup(index, this.clockMs);
      this.groups.push(g);
    }
    invariant(g.t === this.clockMs && (g.positions.length === 0 || g.positions[g.positions.length - 1] < position), () => `idempotency key ${key} out of order in entry ${index}`);
    this.slots.set(key, session, { g, i: g.keys.length });
    g.keys.push(key);
    g.positions.push(position);
    g.prints!.push(print);
    g.results!.push(result);
    if (rec) {
      rec.t = this.clockMs;
      rec.o = order(index, position);
      if (session![1] > rec.m) rec.m = session![1];
      this.dirty.add(session![0]);
      this.active.add(session![0]);
    }
    this.sweep(ops);
  }

  /** The batch's ops are complete: persist the open group, the sessions it changed, and the clock if it moved. */
  finishBatch(ops: EngineOp[]): void {
    this.endEntry(ops);
    // The previous batch is in the engine by now (batches apply one after another): its
    // groups' answers are read back from there when a retry needs them.
    for (const g of this.sealedBefore) g.text = undefined;
    this.sealedBefore = this.sealed;
    this.sealed = [];
    for (const id of this.dirty) ops.push({ op: 'put', key: SESSION(id), value: Buffer.from(sessionRecord(this.sessions.get(id)!)) });
    this.dirty.clear();
    if (this.clockMoved) ops.push({ op: 'put', key: CLOCK, value: Buffer.from(String(this.clockMs)) });
    this.clockMoved = false;
  }

  /**
   * The entry being applied is over: its group is sealed and written (unless all its keys were
   * dropped already), the sessions it used queued at their new place.
   */
  private endEntry(ops: EngineOp[]): void {
    const g = this.open;
    if (g) {
      this.open = undefined;
      if (g.dropped < g.keys.length) {
        const text = sealGroup(g);
        ops.push({ op: 'put', key: g.recordKey!, value: Buffer.from(text) });
        this.sealed.push(g);
      } else {
        // Dropped before it was written (limits below one entry's keys): nothing to keep.
        invariant(this.groups.peek() === g, () => `idempotency group ${g.index} dropped out of order`);
        this.groups.pop();
      }
    }
    if (this.active.size === 0) return;
    const used = [...this.active].flatMap((id) => {
      const rec = this.sessions.get(id);
      return rec ? [{ id, t: rec.t, o: rec.o }] : [];
    });
    used.sort((a, b) => a.t - b.t || a.o - b.o);
    for (const q of used) this.sessionQueue.push(q);
    this.active.clear();
  }

  private answers(g: Group, engine: Engine): { prints: string[]; results: unknown[] } {
    if (g.prints && g.results) return { prints: g.prints, results: g.results };
    if (this.decoded?.g !== g) this.decoded = { g, answers: groupAnswers(g, () => engine.get(g.recordKey!)) };
    return this.decoded.answers;
  }

  /** Drops keys past their TTL or beyond the count, and idle or surplus sessions (oldest first). */
  private sweep(ops: EngineOp[]): void {
    const { keyTtlMs, keysMax, sessionIdleMs, sessionsMax } = this.limits;
    for (let g = this.groups.peek(); g; g = this.groups.peek()) {
      if (g.t > this.clockMs - keyTtlMs && this.slots.size <= keysMax) break;
      if (g.dropped === g.keys.length) break; // the open group, all dropped: it takes more keys
      this.dropKey(g.keys[g.dropped++]);
      if (g.dropped < g.keys.length) continue;
      if (g === this.open) break;
      this.groups.pop();
      if (g.recordKey !== undefined) ops.push({ op: 'delete', key: g.recordKey });
      if (this.decoded?.g === g) this.decoded = undefined;
    }
    for (let q = this.sessionQueue.peek(); q; q = this.sessionQueue.peek()) {
      const rec = this.sessions.get(q.id);
      if (rec?.o === q.o) {
        if (rec.t > this.clockMs - sessionIdleMs && this.sessions.size <= sessionsMax) break;
        this.sessions.delete(q.id);
        this.dirty.delete(q.id);
        this.active.delete(q.id);
        ops.push({ op: 'delete', key: SESSION(q.id) });
      }
      this.sessionQueue.pop();
    }
  }

  private dropKey(key: string): void {
    const session = sessionKey(key);
    this.slots.delete(key, session);
    const rec = session && this.sessions.get(session[0]);
    if (rec && session![1] > rec.e) {
      // Updated in place: the drop mark is not activity (the session keeps its place).
      rec.e = session![1];
      this.dirty.add(session![0]);
    }
  }
}
