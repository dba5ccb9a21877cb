/**
 * The only module that loads the napi-rs addon. Everything else uses the typed wrappers here:
 * `Wal` (the Raft log) and `Engine` (the RocksDB state machine); the market wrappers (`Books`,
 * `ReplayCursor`) are in native_market.ts, on this module's `load` and `call`.
 *
 * Batching: one native call per batch. Entries, keys and write batches cross the boundary as
 * one packed Buffer each; results come back packed and are decoded with zero-copy subarrays.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { fromNative, NativeError } from './errors';
import { packageRoot } from './paths';
import { keyBuffer, type KeyValue, nativeScan, type RangeCount, type ScanOptions, unpackScan } from './native_scan';

export type { KeyValue, RangeCount, ScanOptions } from './native_scan';

// ---- the generated loader's surface (native/index.d.ts, written by `napi build`) ----

type Binding = typeof import('../native/index');
type NativeWalHandle = import('../native/index').NativeWal;
type NativeEngineHandle = import('../native/index').NativeEngine;
/** Largest packed batch `Engine.applySoon` writes on the calling thread (bigger: the pool). */
export const APPLY_NOW_BYTES_MAX = 256 << 10;
type DurableEvent = import('../native/index').DurableEvent;

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface WalOptions {
  /** Largest entry record in bytes (default 8 MiB). */
  recordBytesMax?: number;
  /** Segment size before rolling to a new file (default 64 MiB). */
  segmentBytesMax?: number;
  /** Most bytes in one write + fdatasync group (default 16 MiB). */
  groupBytesMax?: number;
  /** Bytes queued for the I/O thread before appends fail with WAL_LIMIT (default 256 MiB). */
  queueBytesMax?: number;
  backend?: 'auto' | 'io_uring' | 'pwrite';
  /** Test-only: the nth fdatasync (0-based) fails with EIO. */
  failSyncAt?: number;
  /** Test-only: the nth group (0-based) is half written, then the process aborts. */
  tornWriteAt?: number;
  /** Test-only: allows `setSyncStall` (the disk-stall experiment). */
  allowStall?: boolean;
}

export interface WalInfo {
  backend: 'io_uring' | 'pwrite';
  fallbackReason?: string | null;
  recoveredSegments: number;
  recoveredEntries: number;
  truncatedBytes: number;
}


export interface EngineOptions {
  blockCacheBytes?: number;
  bloomBitsPerKey?: number;
  compression?: 'none' | 'lz4' | 'zstd';
  writeBufferBytes?: number;
}



let binding: Binding | undefined;

/** The prebuilt addon's npm package for this platform (`npm run package` makes it). */
export const PLATFORM_PACKAGE = `quorumkv-${process.platform}-${process.arch}-gnu`;

/**
 * The addon: a local build first (a source checkout: `native/`, from `npm run build:native`),
 * then the prebuilt platform package; otherwise one error saying what was looked for.
 */
export function load(): Binding {
  if (binding) return binding;
  const local = join(packageRoot(), 'native', 'index.js');
  if (existsSync(local)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (binding = require(local) as Binding);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (binding = require(PLATFORM_PACKAGE) as Binding);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
  }
  throw new Error(
    `quorumkv: no native addon for ${process.platform}-${process.arch}: no local build (${local}) and the package ${PLATFORM_PACKAGE} is not installed. ` +
      'Prebuilt packages exist for linux-x64 (glibc); elsewhere build from source: git clone, then npm install (needs Rust, g++ and libclang; scripts/setup-debian.sh).',
  );
}

export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

async function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await call(fn);
  } catch (err) {
    throw fromNative(err);
  }
}

// ---- WAL ----

export interface LogEntry {
  index: number;
  term: number;
  data: Buffer;
}

const PACKED_ENTRY_HEADER_BYTES = 12;
const TWO_32 = 2 ** 32;

/** Packs entries as `[term u64][len u32][data]`... in one Buffer. */
export function packEntries(entries: readonly { term: number; data: Uint8Array }[]): Buffer {
  let bytes = 0;
  for (const e of entries) bytes += PACKED_ENTRY_HEADER_BYTES + e.data.length;
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const e of entries) {
    out.writeUInt32LE(e.term % TWO_32, at);
    out.writeUInt32LE(Math.floor(e.term / TWO_32), at + 4);
    out.writeUInt32LE(e.data.length, at + 8);
    out.set(e.data, at + PACKED_ENTRY_HEADER_BYTES);
    at += PACKED_ENTRY_HEADER_BYTES + e.data.length;
  }
  return out;
}

export function unpackEntries(packed: Buffer, firstIndex: number): LogEntry[] {
  const out: LogEntry[] = [];
  let at = 0;
  let index = firstIndex;
  while (at < packed.length) {
    const term = packed.readUInt32LE(at) + packed.readUInt32LE(at + 4) * TWO_32;
    const len = packed.readUInt32LE(at + 8);
    const start = at + PACKED_ENTRY_HEADER_BYTES;
    out.push({ index, term, data: packed.subarray(start, start + len) });
    at = start + len;
    index += 1;
  }
  return out;
}

interface Waiter {
  ticket: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The Raft write-ahead log. `append` resolves once the batch is durable; batches queued while
 * a sync runs share the next one (group commit on the addon's I/O thread).
 */
export class Wal {
  private readonly handle: NativeWalHandle;
  /** Waiters in ticket order: durability is reported in order, so resolving pops the front. */
  private readonly waiters: Waiter[] = [];
  private waitersHead = 0;
  private fatal: NativeError | undefined;
  private closed = false;

  private constructor(dir: string, options: WalOptions) {
    this.handle = call(() => load().NativeWal.open(dir, options, (err, event) => this.onDurable(err, event)));
  }

  static open(dir: string, options: WalOptions = {}): Wal {
    return new Wal(dir, options);
  }

  info(): WalInfo {
    const info = this.handle.info();
    // The addon reports one of the two names it knows (`Backend::name`).
    return { ...info, backend: info.backend === 'io_uring' ? 'io_uring' : 'pwrite' };
  }

  stats(): { syncs: number; entries: number } {
    return this.handle.stats();
  }

  /** Test-only: every fdatasync takes `delayMs` longer for the next `durationMs`. */
  setSyncStall(delayMs: number, durationMs: number): void {
    call(() => this.handle.setSyncStall(delayMs, durationMs));
  }

  /** Appends entries (contiguous, starting at `entries[0].index`) and/or a hard state. */
  append(entries: readonly LogEntry[], hardState?: HardState): Promise<void> {
    // A hard-state-only append carries no entries; its index argument is then ignored.
    const first = entries.length > 0 ? entries[0].index : 0;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].index !== first + i) {
        return Promise.reject(new NativeError('WAL_INVALID_ARGUMENT', `entry ${i} has index ${entries[i].index}, expected ${first + i}`));
      }
    }
    return this.appendPacked(first, packEntries(entries), hardState);
  }

  /** Like `append`, with entries already packed (see `packEntries`). */
  appendPacked(firstIndex: number, packed: Buffer, hardState?: HardState): Promise<void> {
    if (this.fatal) return Promise.reject(this.stoppedBy(this.fatal));
    let ticket: number;
    try {
      ticket = call(() => this.handle.append(firstIndex, packed, hardState ?? null));
    } catch (err) {
      // Argument and limit errors reject like durability errors: callers handle one path.
      return Promise.reject(err);
    }
    return this.waitFor(ticket);
  }

  /** Replaces the log with an empty one whose next index is `nextIndex`. */
  reset(nextIndex: number): Promise<void> {
    if (this.fatal) return Promise.reject(this.stoppedBy(this.fatal));
    let ticket: number;
    try {
      ticket = call(() => this.handle.reset(nextIndex));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.waitFor(ticket);
  }

  firstIndex(): number {
    return this.handle.firstIndex();
  }

  /** Last durable index (`firstIndex() - 1` when empty). */
  lastIndex(): number {
    return this.handle.lastIndex();
  }

  term(index: number): number | undefined {
    return call(() => this.handle.term(index)) ?? undefined;
  }

  hardState(): HardState {
    return this.handle.hardState();
  }

  /** Durable entries in [lo, hi), at most `bytesMax` bytes (always at least one entry). */
  async entries(lo: number, hi: number, bytesMax = Number.MAX_SAFE_INTEGER): Promise<LogEntry[]> {
    const packed = await callAsync(() => this.handle.entries(lo, hi, Math.min(bytesMax, 0xffffffff)));
    return unpackEntries(packed, lo);
  }

  /** Drops whole segments whose entries are all <= index; resolves to the new first index. */
  compact(index: number): Promise<number> {
    return callAsync(() => this.handle.compact(index));
  }

  /** Finishes queued appends and stops the I/O thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private waitFor(ticket: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ ticket, resolve, reject });
    });
  }

  private onDurable(err: Error | null, event: DurableEvent): void {
    if (err) {
      this.failAll(new NativeError('WAL_FATAL', `durability callback failed: ${err.message}`));
      return;
    }
    while (this.waitersHead < this.waiters.length && this.waiters[this.waitersHead].ticket <= event.okThrough) {
      this.waiters[this.waitersHead++].resolve();
    }
    if (event.errorCode) {
      this.failAll(new NativeError(event.errorCode, event.errorMessage ?? event.errorCode));
    }
    if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waitersHead);
      this.waitersHead = 0;
    }
  }

  /** What an append after a fatal failure gets: WAL_FATAL, naming the failure that stopped the log. */
  private stoppedBy(fatal: NativeError): NativeError {
    return new NativeError('WAL_FATAL', `the log stopped after ${fatal.nativeCode}: ${fatal.message}`, { cause: fatal });
  }

  private failAll(err: NativeError): void {
    this.fatal = err;
    while (this.waitersHead < this.waiters.length) this.waiters[this.waitersHead++].reject(err);
  }
}

// ---- Engine ----

/**
 * A write of the engine's batch. With `revision`, the value stored is `[revision u64 LE][value]`
 * (a KV value's stored form, `encodeStored`), laid out by `packBatch` without a Buffer of its own.
 */
export type EngineOp =
  | { op: 'put'; key: string | Buffer; value: Buffer; revision?: number }
  | { op: 'delete'; key: string | Buffer }
  /** Every key in `[key, end)`, as one range tombstone (later scans skip it in one seek). */
  | { op: 'deleteRange'; key: Buffer; end: Buffer }
  /** Nothing for the engine: the read cache drops the key (one a `deleteRange` deleted). */
  | { op: 'uncache'; key: string | Buffer };

const OP_CODES = { put: 1, delete: 2, deleteRange: 3, uncache: 4 } as const;

/** Packs a write batch: `[op u8][keyLen u32][key]([valueLen u32][value] | [endLen u32][end])`... */
export function packBatch(ops: readonly EngineOp[]): Buffer {
  const keys = ops.map((o) => keyBuffer(o.key));
  let bytes = 0;
  ops.forEach((o, i) => {
    bytes += 5 + keys[i].length + (o.op === 'put' ? 4 + o.value.length + (o.revision === undefined ? 0 : 8) : o.op === 'deleteRange' ? 4 + o.end.length : 0);
  });
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  ops.forEach((o, i) => {
    out[at] = OP_CODES[o.op];
    out.writeUInt32LE(keys[i].length, at + 1);
    keys[i].copy(out, at + 5);
    at += 5 + keys[i].length;
    if (o.op === 'deleteRange') {
      out.writeUInt32LE(o.end.length, at);
      o.end.copy(out, at + 4);
      at += 4 + o.end.length;
    } else if (o.op === 'put') {
      const prefix = o.revision === undefined ? 0 : 8;
      out.writeUInt32LE(prefix + o.value.length, at);
      if (o.revision !== undefined) {
        out.writeUInt32LE(o.revision % TWO_32, at + 4);
        out.writeUInt32LE(Math.floor(o.revision / TWO_32), at + 8);
      }
      o.value.copy(out, at + 4 + prefix);
      at += 4 + prefix + o.value.length;
    }
  });
  return out;
}

function packKeys(keys: readonly (string | Buffer)[]): Buffer {
  const bufs = keys.map(keyBuffer);
  const out = Buffer.allocUnsafe(bufs.reduce((n, k) => n + 4 + k.length, 0));
  let at = 0;
  for (const k of bufs) {
    out.writeUInt32LE(k.length, at);
    k.copy(out, at + 4);
    at += 4 + k.length;
  }
  return out;
}

/** `count` values packed `[len i32 (-1: absent)][bytes]`..., as views of `packed`. */
function unpackValues(packed: Buffer, count: number): (Buffer | undefined)[] {
  const out: (Buffer | undefined)[] = new Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const len = packed.readInt32LE(at);
    at += 4;
    if (len < 0) {
      out[i] = undefined; // (no holes: callers map and forEach over the result)
    } else {
      out[i] = packed.subarray(at, at + len);
      at += len;
    }
  }
  return out;
}

/**
 * The shapes of a key's answer item: `keyed` `{"key","value","revision"}` (GET, multi-gets
 * listing the keys found), `positional` `{"value","revision"}` (one item per key asked).
 */
export type ItemShape = 'keyed' | 'positional';
/**
 * A whole multi-get answer's layout: an item shape's `{"items":[…]}`, or `columns`
 * `{"values":[…],"revisions":[…]}` (one entry per key asked, `null` in both where absent).
 */
export type AnswerLayout = ItemShape | 'columns';
/** The read cache's entry limit (`READ_CACHE_ENTRIES_MAX` in the addon's read_cache.rs). */
export const READ_CACHE_ENTRIES_MAX = 200_000;
const SHAPES: Record<AnswerLayout, number> = { keyed: 0, positional: 1, columns: 2 };
/** `Engine.itemsOut`'s size: a few keys' items fit (values are at most 1 MiB: one may not). */
const ITEMS_OUT_BYTES = 64 << 10;


/** The RocksDB state machine. */
export class Engine {
  /**
   * Where `cacheItems` has the addon write its answer, reused by every call: a Buffer made by
   * the addon costs several µs (an external backing store with a GC finalizer), a copy out of
   * this one a fraction of that. A bigger answer takes the allocating call.
   */
  private readonly itemsOut = Buffer.allocUnsafe(ITEMS_OUT_BYTES);

  private constructor(private readonly handle: NativeEngineHandle) {}

  static open(path: string, options: EngineOptions = {}): Engine {
    return new Engine(call(() => load().NativeEngine.open(path, options)));
  }

  /** Replaces `path` with a checkpoint's contents and opens it. */
  static openFromCheckpoint(checkpoint: string, path: string, options: EngineOptions = {}): Engine {
    return new Engine(call(() => load().NativeEngine.openFromCheckpoint(checkpoint, path, options)));
  }

  appliedIndex(): number {
    return call(() => this.handle.appliedIndex());
  }

  /** Every series the addon records (WAL fsync, apply, RocksDB), as Prometheus text. */
  metricsText(): string {
    return call(() => this.handle.metricsText());
  }

  /** Writes the batch and `appliedIndex` in one WriteBatch; `appliedIndex` must increase. */
  apply(ops: readonly EngineOp[], appliedIndex: number): Promise<number> {
    return this.applyPacked(packBatch(ops), appliedIndex);
  }

  applyPacked(packed: Buffer, appliedIndex: number): Promise<number> {
    return callAsync(() => this.handle.apply(packed, appliedIndex));
  }

  /**
   * `apply` that writes a batch of at most `APPLY_NOW_BYTES_MAX` packed bytes on this thread
   * when RocksDB takes it without stalling (memtable inserts: tens to hundreds of µs), sparing
   * the thread-pool round trip that cost an applied batch ~0.6 ms at the median and several ms
   * at p99 under ingest (a read waiting for its index waits for it too); a bigger batch, one
   * RocksDB would stall, or one that would wait for a checkpoint being taken goes to the pool
   * as `apply` does: this thread never waits on RocksDB.
   */
  applySoon(ops: readonly EngineOp[], appliedIndex: number): number | Promise<number> {
    const packed = packBatch(ops);
    return this.applyHere(packed, appliedIndex) ?? this.applyPacked(packed, appliedIndex);
  }

  /** The calling-thread half of `applySoon`: undefined (nothing written) when the batch must go to the pool. */
  applyHere(packed: Buffer, appliedIndex: number): number | undefined {
    if (packed.length > APPLY_NOW_BYTES_MAX) return undefined;
    return call(() => this.handle.applyNow(packed, appliedIndex)) ?? undefined;
  }

  get(key: string | Buffer): Buffer | undefined {
    return call(() => this.handle.get(keyBuffer(key))) ?? undefined;
  }

  /**
   * The read cache (kept in the addon, beside the engine): a published batch's writes (the
   * packed batch the engine wrote). Called in the turn that moves the applied index.
   */
  cacheApplied(packed: Buffer): void {
    call(() => this.handle.cacheApplied(packed));
  }

  /**
   * Each key's answer item in `shape` (undefined: absent), from the read cache, misses from the
   * engine; undefined as a whole when a key misses and `engineAllowed` is false.
   */
  cacheItems(keys: readonly string[], shape: ItemShape, engineAllowed: boolean): (Buffer | undefined)[] | undefined {
    const packedKeys = packKeys(keys);
    const n = call(() => this.handle.cacheItemsInto(packedKeys, SHAPES[shape], engineAllowed, this.itemsOut));
    if (n === null) return undefined;
    // Copied out of the reused buffer (pooled below 4 KiB): the answers outlive the next call.
    if (n >= 0) return unpackValues(Buffer.from(this.itemsOut.subarray(0, n)), keys.length);
    const packed = call(() => this.handle.cacheItems(packedKeys, SHAPES[shape], engineAllowed));
    return packed === null ? undefined : unpackValues(packed, keys.length);
  }

  /** `cacheItems` as the whole answer in `layout` (keyed: the keys found; positional, columns: `null` where absent). */
  cacheAnswer(keys: readonly string[], layout: AnswerLayout, engineAllowed: boolean): Buffer | undefined {
    return call(() => this.handle.cacheAnswer(packKeys(keys), SHAPES[layout], engineAllowed)) ?? undefined;
  }

  /**
   * The whole answer `{"items":[…]}` to a multi-get body in the compact shape clients send;
   * undefined when the body has another shape or a key the API refuses (the caller's general
   * path decides), or a key misses and `engineAllowed` is false.
   */
  cacheMultiGet(body: Buffer, layout: AnswerLayout, engineAllowed: boolean): Buffer | undefined {
    return call(() => this.handle.cacheMultiGet(body, SHAPES[layout], engineAllowed)) ?? undefined;
  }

  /** One native call for all keys; results in key order, `undefined` for missing keys. */
  multiGet(keys: readonly (string | Buffer)[]): (Buffer | undefined)[] {
    return unpackValues(call(() => this.handle.multiGet(packKeys(keys))), keys.length);
  }

  async scan(options: ScanOptions): Promise<{ items: KeyValue[]; more: boolean }> {
    return unpackScan(await callAsync(() => this.handle.scan(nativeScan(options))));
  }

  /** Counts the range's keys in ascending order (after `after`), at most `limit` (off the JS thread). */
  async count(options: ScanOptions): Promise<RangeCount> {
    const r = await callAsync(() => this.handle.count(nativeScan(options)));
    return { count: r.count, more: r.more, last: r.last ?? undefined };
  }

  /** `scan` on the calling thread (the applier's, which must see the range as of the entry it applies). */
  scanNow(options: ScanOptions): { items: KeyValue[]; more: boolean } {
    return unpackScan(call(() => this.handle.scanNow(nativeScan(options))));
  }

  /** Writes a checkpoint to `dir` (which must not exist); resolves to its applied index. */
  checkpoint(dir: string): Promise<number> {
    return callAsync(() => this.handle.checkpoint(dir));
  }

  /** Compacts the data keys in `[start, end)` now (the space a purge's range tombstones freed). */
  compactRange(start: Buffer, end: Buffer): Promise<void> {
    return callAsync(() => this.handle.compactRange(start, end));
  }

  /**
   * Compacts every key into RocksDB's last level now (an operator's defrag: `ts/node/defrag.ts`);
   * rejects with ENGINE_IO if a compaction failed (the disk did).
   */
  compactAll(): Promise<void> {
    return callAsync(() => this.handle.compactAll());
  }

  /** Bytes of the SST files in use, RocksDB's estimate of the live data in them, and of the memtables. */
  sizes(): { liveSstBytes: number; liveDataBytes: number; memtableBytes: number } {
    const s = call(() => this.handle.sizes());
    return { liveSstBytes: s.liveSstBytes, liveDataBytes: s.liveDataBytes, memtableBytes: s.memtableBytes };
  }

  /** Bytes of every key and value, from one consistent view (a full read, off the event loop). */
  liveBytes(): Promise<number> {
    return callAsync(() => this.handle.liveBytes());
  }

  flush(): Promise<void> {
    return callAsync(() => this.handle.flush());
  }

  /** `stateDigest` of the state as of this call (its view taken now), computed off the event loop. */
  async digestNow(): Promise<{ index: number; sha256: string }> {
    const d = await callAsync(() => this.handle.digestNow());
    return { index: d.appliedIndex, sha256: d.sha256 };
  }

  /** SHA-256 (hex) of the applied index and every key and value, from one consistent view. */
  async stateDigest(): Promise<{ index: number; sha256: string }> {
    const d = await callAsync(() => this.handle.stateDigest());
    return { index: d.appliedIndex, sha256: d.sha256 };
  }

  close(): void {
    this.handle.close();
  }
}

// ---- batched writes ----

/**
 * The batch section of a Raft command (count, then the items as ts/node/commands.ts encodes
 * them) for a `POST /v1/batch` body in the compact shape the client library sends, each value
 * already in the form the API stores (crates/engine/src/batch_body.rs); undefined for any other
 * body, which the caller parses as JSON.
 */
export function compactBatch(body: Uint8Array, opsMax: number, keyBytesMax: number, valueBytesMax: number): Buffer | undefined {
  return call(() => load().compactBatch(body, opsMax, keyBytesMax, valueBytesMax)) ?? undefined;
}

// ---- zstd ----

/** One zstd frame of `data` at `level` (1..19), compressed off the JS thread. */
export function zstdCompress(data: Uint8Array, level = 3): Promise<Buffer> {
  return callAsync(() => load().zstdCompress(data, level) as Promise<Buffer>);
}

/** The content of one zstd frame: code `CORRUPT` if damaged, `TOO_LARGE` past `maxBytes`. */
export function zstdDecompress(frame: Uint8Array, maxBytes: number): Promise<Buffer> {
  return callAsync(() => load().zstdDecompress(frame, maxBytes) as Promise<Buffer>);
}
