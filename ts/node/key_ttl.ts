/**
 * Keys written with a time to live (`PUT /v1/kv/{key}` with `ttlMs`), as Redis's `SET ... PX`
 * and etcd's leases give them: part of the state machine, so every node expires the same keys at
 * the same entry. A key's expiry is the clock of the entry that wrote it (`atMs`, the proposer's
 * wall clock) plus its TTL; it is deleted by an `Op.Expire` entry the leader proposes once its
 * own clock passes the earliest expiry — until then it is still read, as an etcd key is until
 * its lease's revocation commits. Any later write of the key (a put without a TTL, a delete, a
 * txn, a range delete) ends its TTL; a put with a TTL replaces it.
 *
 * Kept in memory (key → expiry) and in reserved keys `\0ttl/<key>` → expiry (u64 LE), written
 * in the same batch as the key, so a restart or a snapshot install loads the same state.
 * Limits: `TTL_KEYS_MAX` keys with a TTL (a put past it is refused, nothing applied);
 * `EXPIRE_KEYS_MAX` keys deleted per Expire entry (the leader proposes again while any is due).
 */
import type { Engine, EngineOp } from '../native';
import { invariant } from '../raft/assert';
import { RESERVED_KEY_PREFIX } from './membership';

export const TTL_KEY_PREFIX = `${RESERVED_KEY_PREFIX}ttl/`;
/** Keys with a TTL at once: each costs memory on every node, and the leader scans them to find the earliest. */
export const TTL_KEYS_MAX = 100_000;

/** The answer to a write that would give one key more a TTL past `TTL_KEYS_MAX` (nothing applied). */
export const TTL_LIMIT_REFUSAL = { kind: 'refused', code: 'too_many_ttl_keys', message: `${TTL_KEYS_MAX} keys already have a TTL; delete some or write without one` } as const;
/** Keys one Expire entry deletes at most (every node's applier deletes them on its thread). */
export const EXPIRE_KEYS_MAX = 1_000;
/** The longest TTL a put may ask for (one year). */
export const TTL_MS_MAX = 365 * 24 * 3600 * 1000;

const LOAD_PAGE_KEYS = 10_000;

export class KeyTtl {
  private readonly expiresAt = new Map<string, number>();
  /**
   * (expiry, key) in a binary min-heap by expiry, then key: the earliest and the due keys
   * without a pass over every key (a pass and a sort per Expire entry cost ~10 ms per node with
   * 20K keys due). Entries of keys whose TTL ended or changed stay until they reach the top
   * (an entry is live while the map holds its expiry); past twice the live ones plus
   * `HEAP_SLACK`, the heap is rebuilt from the map.
   */
  private heap: [number, string][] = [];
  /** Keys this node deleted by Expire entries since it started (a counter for the metrics). */
  expiredTotal = 0;

  get size(): number {
    return this.expiresAt.size;
  }

  has(key: string): boolean {
    return this.expiresAt.has(key);
  }

  /** Whether giving `key` a TTL would pass `TTL_KEYS_MAX` (renewing one it has never does). */
  full(key: string): boolean {
    return !this.expiresAt.has(key) && this.expiresAt.size >= TTL_KEYS_MAX;
  }

  /** Loads what `engine` holds (at start, after a snapshot install), replacing this state. */
  async load(engine: Engine): Promise<void> {
    this.expiresAt.clear();
    let after: Buffer | undefined;
    for (let more = true; more; ) {
      const page = await engine.scan({ prefix: TTL_KEY_PREFIX, after, limit: LOAD_PAGE_KEYS });
      for (const { key, value } of page.items) {
        this.expiresAt.set(key.subarray(Buffer.byteLength(TTL_KEY_PREFIX)).toString('utf8'), readMs(value));
        after = key;
      }
      more = page.more;
    }
    this.rebuild();
  }

  /** `key` expires at `expiresAtMs` (its write is in the same batch as `ops`). */
  set(key: string, expiresAtMs: number, ops: EngineOp[]): void {
    invariant(this.expiresAt.has(key) || this.expiresAt.size < TTL_KEYS_MAX, () => `a TTL past TTL_KEYS_MAX for ${key}`);
    const before = this.expiresAt.get(key);
    this.expiresAt.set(key, expiresAtMs);
    if (before !== expiresAtMs) this.push([expiresAtMs, key]);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(BigInt(expiresAtMs));
    ops.push({ op: 'put', key: TTL_KEY_PREFIX + key, value });
  }

  /** `key` was written again (or deleted): its TTL, if any, ends. */
  clear(key: string, ops: EngineOp[]): void {
    if (this.expiresAt.size === 0 || !this.expiresAt.delete(key)) return;
    ops.push({ op: 'delete', key: TTL_KEY_PREFIX + key });
  }

  /** Keys due at `nowMs`, at most `max`, by expiry then key: the same choice on every node. */
  due(nowMs: number, max: number): string[] {
    const out = new Set<string>();
    const taken: [number, string][] = [];
    while (out.size < max && this.dropStale() && this.heap[0][0] <= nowMs) {
      const top = this.pop();
      // (A key set to the same expiry twice may have two entries: one answer.)
      if (out.has(top[1])) continue;
      taken.push(top);
      out.add(top[1]);
    }
    // The caller ends each key's TTL; until then the entries stay findable.
    for (const entry of taken) this.push(entry);
    return [...out];
  }

  /** The expiry of `key`'s TTL (undefined: it has none). */
  expiryOf(key: string): number | undefined {
    return this.expiresAt.get(key);
  }

  /** The earliest expiry (undefined: no key has a TTL). */
  earliest(): number | undefined {
    return this.dropStale() ? this.heap[0][0] : undefined;
  }

  /** Pops stale entries off the top; whether a live one is left there. */
  private dropStale(): boolean {
    while (this.heap.length > 0 && this.expiresAt.get(this.heap[0][1]) !== this.heap[0][0]) this.pop();
    if (this.heap.length > 2 * this.expiresAt.size + HEAP_SLACK) this.rebuild();
    return this.heap.length > 0;
  }

  private rebuild(): void {
    this.heap = [...this.expiresAt].map(([key, at]): [number, string] => [at, key]).sort(before);
  }

  private push(entry: [number, string]): void {
    const h = this.heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (before(h[parent], h[i]) <= 0) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private pop(): [number, string] {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m]) < 0) m = l;
        if (r < h.length && before(h[r], h[m]) < 0) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

/** Heap entries beyond twice the live ones before a rebuild. */
const HEAP_SLACK = 1024;

/** Expiry, then key (UTF-16 order: the same on every node). */
function before(a: [number, string], b: [number, string]): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

function readMs(value: Buffer): number {
  invariant(value.length === 8, () => `a TTL record of ${value.length} bytes`);
  return Number(value.readBigUInt64LE(0));
}
