/**
 * Where the idempotency table finds a kept key's answer (its group, and its place there). A
 * session's keys (`s<index>:<seq>`) are kept by seq in an array window per session; other keys
 * (opaque `Idempotency-Key` values) in a Map.
 *
 * Why not one Map for all: at 40K+ keyed writes/s the table sits at its key limit, so every write
 * inserted one key into a 100,000-entry Map and deleted another — ~10% of a follower's CPU
 * (`perf`), and a probe that skipped those Map operations wrote 42–49K vs 30–41K keys/s. A
 * client numbers its writes 1, 2, 3…, and keys drop in apply order, so a session's kept seqs
 * are a dense range: an array indexed by seq, trimmed at its front as keys drop.
 *
 * Limit (memory): a seq is put in its window only if the window then spans at most
 * `2 × kept + SPAN_SLACK` seqs (drops only shrink a span; an emptied window is removed); one that
 * would stretch it further (a client skipping numbers, or a seq older than every kept one) goes
 * to the Map instead. So memory follows the kept keys, however a client numbers its writes.
 */
import { invariant } from '../raft/assert';
import type { Group } from './idempotency_records';

/** A kept key: its group, and its place in it. */
export interface Slot {
  g: Group;
  i: number;
}

/** Seqs a window may span beyond twice its kept keys. */
export const SPAN_SLACK = 64;

/** One session's kept keys by seq: `items[head]` is seq `base`; `kept` entries are set. */
export class SeqWindow<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private base = 0;
  kept = 0;

  /** Seqs from the first kept one to the last slot (at most 2 × kept + SPAN_SLACK when last set). */
  get span(): number {
    return this.items.length - this.head;
  }

  get(seq: number): T | undefined {
    const at = seq - this.base + this.head;
    return at >= this.head && at < this.items.length ? this.items[at] : undefined;
  }

  /** Keeps `v` at `seq` (not kept yet); false when the seq does not fit the window's limit. */
  set(seq: number, v: T): boolean {
    if (this.kept === 0) {
      this.items = [v];
      this.head = 0;
      this.base = seq;
      this.kept = 1;
      return true;
    }
    const at = seq - this.base + this.head;
    const span = Math.max(at + 1, this.items.length) - this.head;
    if (at < this.head || span > 2 * (this.kept + 1) + SPAN_SLACK) return false;
    while (this.items.length < at) this.items.push(undefined);
    invariant(this.items[at] === undefined, () => `seq ${seq} is kept already`);
    this.items[at] = v;
    this.kept++;
    return true;
  }

  /** Drops `seq`; false if the window does not hold it. */
  delete(seq: number): boolean {
    const at = seq - this.base + this.head;
    if (at < this.head || at >= this.items.length || this.items[at] === undefined) return false;
    this.items[at] = undefined;
    this.kept--;
    while (this.head < this.items.length && this.items[this.head] === undefined) {
      this.head++;
      this.base++;
    }
    // Keys drop at the front: reclaim it once it is half the array.
    if (this.head >= SPAN_SLACK && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return true;
  }
}

/** A session key's parts: [session, seq] (undefined for an opaque key). */
export type SessionPart = readonly [string, number] | undefined;

export class KeySlots {
  private readonly opaque = new Map<string, Slot>();
  private readonly windows = new Map<string, SeqWindow<Slot>>();
  /** Keys kept, both kinds. */
  size = 0;

  get(key: string, session: SessionPart): Slot | undefined {
    if (session) {
      const hit = this.windows.get(session[0])?.get(session[1]);
      if (hit) return hit;
    }
    return this.opaque.get(key);
  }

  /** Keeps `key` (not kept: the caller checks). */
  set(key: string, session: SessionPart, slot: Slot): void {
    this.size++;
    if (session) {
      let w = this.windows.get(session[0]);
      if (!w) this.windows.set(session[0], (w = new SeqWindow()));
      if (w.set(session[1], slot)) return;
      if (w.kept === 0) this.windows.delete(session[0]);
    }
    this.opaque.set(key, slot);
  }

  delete(key: string, session: SessionPart): void {
    if (session) {
      const w = this.windows.get(session[0]);
      if (w?.delete(session[1])) {
        this.size--;
        if (w.kept === 0) this.windows.delete(session[0]);
        return;
      }
    }
    invariant(this.opaque.delete(key), () => `idempotency key ${key} dropped but not kept`);
    this.size--;
  }

  clear(): void {
    this.opaque.clear();
    this.windows.clear();
    this.size = 0;
  }
}
