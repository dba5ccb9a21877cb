/**
 * The applied state's hottest values, in memory: key reads (GET and multi-get) look here before
 * RocksDB (a lookup there costs ~3–4 µs a key). The applier keeps it coherent: it updates the
 * cache in the same turn that moves the applied index (after the batch is durable in the
 * engine), so a read served after its read index was applied sees exactly what the engine
 * would answer. Only user keys; a snapshot install clears it.
 *
 * A cached key also keeps its answer items (the JSON a read answers with, in each of the two
 * shapes: keyed and positional), each rendered at its first read in that shape after each write:
 * a hot key is then read without decoding its value again (perf of a leader under multi-gets:
 * the decode and UTF-8 conversion were ~10% of it).
 *
 * Limits: `READ_CACHE_ENTRIES_MAX` entries and `READ_CACHE_BYTES_MAX` bytes of values and
 * rendered items; past either, the oldest entries (by first insertion) are dropped, 1/16 of the
 * limit at once. Absent keys are not cached.
 */
import type { EngineOp } from '../native';

export const READ_CACHE_ENTRIES_MAX = 200_000;
export const READ_CACHE_BYTES_MAX = 64 << 20;
const RESERVED = '\u0000';
/** An eviction pass frees 1/2^shift of the limits (1/16: 12,500 entries or 4 MiB at the defaults). */
const EVICT_SLACK_SHIFT = 4;

interface Cached {
  stored: Buffer;
  /** The key's answer items rendered from `stored`, by slot (undefined: not read in that shape since it was written). */
  item0: Buffer | undefined;
  item1: Buffer | undefined;
}

/**
 * Renders a key's answer item from its stored value: bytes, copied into answers as they are (a
 * kept string was a tree of concatenations, walked again by every answer it went into: a quarter
 * of a leader's CPU under multi-gets). Each shape has its own `slot` in the cache.
 */
export interface RenderItem {
  readonly slot: 0 | 1;
  render(key: string, stored: Buffer): Buffer;
}

const itemBytes = (c: Cached) => (c.item0?.length ?? 0) + (c.item1?.length ?? 0);

export class ReadCache {
  private readonly values = new Map<string, Cached>();
  private bytes = 0;

  constructor(
    private readonly entriesMax = READ_CACHE_ENTRIES_MAX,
    private readonly bytesMax = READ_CACHE_BYTES_MAX,
  ) {}

  get size(): number {
    return this.values.size;
  }

  /** The stored value of `key` if cached (undefined: not cached; ask the engine). */
  get(key: string): Buffer | undefined {
    return this.values.get(key)?.stored;
  }

  /** The answer item of `key` in `shape` if cached (rendered now if not yet since its last write). */
  item(key: string, shape: RenderItem): Buffer | undefined {
    const c = this.values.get(key);
    if (c === undefined) return undefined;
    const kept = shape.slot === 0 ? c.item0 : c.item1;
    if (kept !== undefined) return kept;
    const item = shape.render(key, c.stored);
    if (shape.slot === 0) c.item0 = item;
    else c.item1 = item;
    this.bytes += item.length;
    this.evict(key);
    return item;
  }

  /** A value read from the engine at the applied index: kept for the next read. */
  fill(key: string, stored: Buffer): void {
    if (!this.values.has(key)) this.set(key, stored);
  }

  /** A batch was applied: its writes replace what the cache held. */
  applied(ops: readonly EngineOp[]): void {
    for (const op of ops) {
      if (typeof op.key !== 'string' || op.key.startsWith(RESERVED)) continue;
      if (op.op === 'put') this.set(op.key, op.value);
      else this.remove(op.key);
    }
  }

  clear(): void {
    this.values.clear();
    this.bytes = 0;
  }

  private set(key: string, value: Buffer): void {
    // A key already cached is updated in place (it keeps its place in the eviction order): a
    // delete and re-insert per write cost three map operations and left holes to rehash.
    const old = this.values.get(key);
    if (old === undefined) {
      this.values.set(key, { stored: value, item0: undefined, item1: undefined });
      this.bytes += value.length;
    } else {
      this.bytes += value.length - old.stored.length - itemBytes(old);
      old.stored = value;
      old.item0 = undefined;
      old.item1 = undefined;
    }
    this.evict(key);
  }

  /** Back under both limits (a pass evicts down to 15/16 of them); `keep` stays. */
  private evict(keep: string): void {
    if (this.values.size <= this.entriesMax && this.bytes <= this.bytesMax) return;
    // A Map's iterator walks the holes earlier deletes left at its front, so evicting one entry
    // per insert made every insert past the limit cost a walk over up to half the table (65 µs
    // at 200K entries). One pass evicts down to `entriesMax - slack`: one walk per `slack`
    // inserts, amortised O(1). The same for bytes; the entry just set always stays.
    const entriesTo = this.entriesMax - Math.max(1, this.entriesMax >> EVICT_SLACK_SHIFT);
    const bytesTo = this.bytesMax - (this.bytesMax >> EVICT_SLACK_SHIFT);
    for (const [oldest, c] of this.values) {
      if ((this.values.size <= entriesTo && this.bytes <= bytesTo) || oldest === keep) break;
      this.values.delete(oldest);
      this.bytes -= c.stored.length + itemBytes(c);
    }
  }

  private remove(key: string): void {
    const c = this.values.get(key);
    if (c === undefined) return;
    this.values.delete(key);
    this.bytes -= c.stored.length + itemBytes(c);
  }
}
