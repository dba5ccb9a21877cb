/**
 * How the idempotency table keeps its answers in the engine: one record per log entry for all
 * the keyed writes that entry applied (a batch of a thousand writes is one record, not a
 * thousand: the per-key records were two extra RocksDB writes — a put, and later a delete — per
 * write on every node), and the groups' order of expiry.
 *
 *   \0idem/g/<entry index, 16 digits>  {"t": clockMs, "p": [position...], "k": [key...],
 *                                        "f": [fingerprint...], "r": [first answer...]}
 *   \0idem/k/<key>                      {"t", "o", "f", "r"}: one key (written by earlier
 *                                        versions; still read and dropped, never written)
 *
 * A group's keys share its entry's clock time, so groups expire in log order and, within one,
 * keys in position order: the kept keys are always a suffix of the applied ones. A group's
 * record is deleted once all its keys are dropped; a group only partly dropped (by count) keeps
 * its record whole, and a reload drops its dropped keys again by the same count.
 */
import { invariant } from '../raft/assert';

export const IDEM_PREFIX = '\u0000idem/';
export const GROUP_PREFIX = `${IDEM_PREFIX}g/`;
export const LEGACY_KEY_PREFIX = `${IDEM_PREFIX}k/`;
const INDEX_DIGITS = 16;

/** The keyed writes one entry applied, and where their answers are kept. */
export interface Group {
  readonly index: number;
  /** The state machine's clock when the entry applied (every key of it expires at once). */
  readonly t: number;
  readonly keys: string[];
  readonly positions: number[];
  /** The open group's fingerprints and answers (a closed one's are in `text`). */
  prints: string[] | undefined;
  results: unknown[] | undefined;
  /**
   * The record's text from its sealing until its batch is in the engine (the engine has it
   * from then on: a retry's answer is read back from there).
   */
  text: string | undefined;
  /** Keys dropped so far: always its first ones. */
  dropped: number;
  /** Its engine key, once written (or loaded). */
  recordKey: string | undefined;
  /** A one-key group read from a per-key record of an earlier version. */
  legacy: boolean;
}

export function openGroup(index: number, t: number): Group {
  return { index, t, keys: [], positions: [], prints: [], results: [], text: undefined, dropped: 0, recordKey: undefined, legacy: false };
}

export function groupKey(index: number): string {
  return `${GROUP_PREFIX}${String(index).padStart(INDEX_DIGITS, '0')}`;
}

/** Records of equal time are ordered by entry index, then position in the entry. */
export function order(index: number, position: number): number {
  return index * 65536 + position;
}

/** JSON with Buffers (txn values) kept exact. */
function parse(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data) : v));
}

/** Closes `g`: its record's text (the fingerprints and answers leave memory for it). */
export function sealGroup(g: Group): string {
  invariant(g.prints !== undefined && g.results !== undefined, () => `group ${g.index} sealed twice`);
  g.text = JSON.stringify({ t: g.t, p: g.positions, k: g.keys, f: g.prints, r: g.results });
  g.recordKey = groupKey(g.index);
  g.prints = undefined;
  g.results = undefined;
  return g.text;
}

/** A group read back from its record (`\0idem/g/...`). */
export function loadGroup(recordKey: string, text: string): Group {
  const index = Number(recordKey.slice(GROUP_PREFIX.length));
  const rec = JSON.parse(text) as { t: number; p: number[]; k: string[] };
  invariant(Number.isSafeInteger(index) && rec.k.length === rec.p.length && rec.k.length > 0, () => `malformed idempotency group ${recordKey}`);
  return { index, t: rec.t, keys: rec.k, positions: rec.p, prints: undefined, results: undefined, text: undefined, dropped: 0, recordKey, legacy: false };
}

/** A one-key group from an earlier version's per-key record (`\0idem/k/<key>`). */
export function loadLegacy(recordKey: string, text: string): Group {
  const rec = JSON.parse(text) as { t: number; o: number };
  const index = Math.floor(rec.o / 65536);
  return { index, t: rec.t, keys: [recordKey.slice(LEGACY_KEY_PREFIX.length)], positions: [rec.o % 65536], prints: undefined, results: undefined, text: undefined, dropped: 0, recordKey, legacy: true };
}

/** The fingerprints and first answers of `g`'s keys, in key order (`stored`: its record in the engine). */
export function groupAnswers(g: Group, stored: () => Buffer | undefined): { prints: string[]; results: unknown[] } {
  if (g.prints && g.results) return { prints: g.prints, results: g.results };
  const text = g.text ?? stored()?.toString();
  invariant(text !== undefined, () => `idempotency group ${g.index} has no stored answers`);
  const rec = parse(text) as { f: string | string[]; r: unknown };
  return g.legacy ? { prints: [rec.f as string], results: [rec.r] } : { prints: rec.f as string[], results: rec.r as unknown[] };
}

/** A FIFO with O(1) amortized pops (compacted once half is consumed). */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
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
