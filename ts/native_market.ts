/**
 * The addon's market wrappers (`crates/market` through src/market.rs and src/replay.rs): the
 * applier's order books and one replay session's cursor. Loaded through native.ts.
 */
import { call, load } from './native';

// ---- Order books ----

type NativeBooksHandle = import('../native/index').NativeBooks;
export type KeptBatch = import('../native/index').KeptBatch;

/**
 * Every instrument's L2 book, in the addon (`crates/market`). One call applies a committed
 * batch of records (see ts/market/records.ts) and returns the instruments whose books changed.
 */
export class Books {
  private readonly handle: NativeBooksHandle;

  constructor(levelsPerSideMax: number) {
    this.handle = call(() => new (load().NativeBooks)(levelsPerSideMax));
  }

  /** Checks a batch of packed records; returns their count (MD_INVALID otherwise). */
  validate(records: Buffer): number {
    return call(() => this.handle.validate(records));
  }

  applyBatch(records: Buffer): number[] {
    return call(() => this.handle.applyBatch(records));
  }

  /**
   * Keeps a committed batch (duplicates dropped, ids and seqs written, gaps found: see
   * crates/market/src/keep.rs) and applies what it kept, in one call.
   */
  ingest(records: Buffer, instrumentIds: Uint32Array, producers: Buffer, raftIndex: number): KeptBatch {
    return call(() => this.handle.ingest(records, instrumentIds, producers, raftIndex));
  }

  /** The last venueSeq seen for (publisher, instrument id), as stored (at load). */
  setVenue(publisher: number, instrument: number, venueSeq: bigint): void {
    call(() => this.handle.setVenue(publisher, instrument, venueSeq));
  }

  encode(instrument: number): Buffer | undefined {
    return this.handle.encode(instrument) ?? undefined;
  }

  load(instrument: number, encoded: Buffer): void {
    call(() => this.handle.load(instrument, encoded));
  }

  /** The book as JSON text (`symbol`: its instrument's name), or undefined when it has none. */
  view(instrument: number, symbol: string, depth: number): string | undefined {
    return this.handle.view(instrument, JSON.stringify(symbol), depth) ?? undefined;
  }
}

// ---- Replay cursors ----

type NativeReplayHandle = import('../native/index').NativeReplay;

export interface ReplayCursorConfig {
  fromTs: bigint;
  /** Exclusive. */
  toTs: bigint;
  /** Records with a higher seq are not part of the replay. */
  seqLimit: bigint;
  /** Resume after this `(tsEvent, seq)` position. */
  resumeAfter?: { tsEvent: bigint; seq: bigint };
  /** Bit `1 << kind` per record kind written (delta 1, trade 2, quote 3). */
  kindsMask: number;
  books: boolean;
  depth: number;
  /** 0n: a book snapshot after each change. */
  snapshotEveryNs: bigint;
  format: 'ndjson' | 'sse' | 'binary';
  levelsMax: number;
  symbols: string[];
  /** Producer names by id. */
  producers: readonly string[];
  /** Counts the session wrote before this cursor (after a seek), so its done line counts all. */
  eventsBefore: number;
  snapshotsBefore: number;
  /** The last seq written (or resumed after) before this cursor: the done line's if it writes none. */
  seqBefore: bigint;
}

export type RenderStep = { chunk: Buffer } & ({ step: 'full' | 'done' } | { step: 'need'; source: number } | { step: 'due'; dueTs: bigint });

/**
 * One replay session's cursor in the addon (`crates/market/src/replay.rs`): the chosen
 * instruments' stored records merged by (tsEvent, seq), applied to scratch books and rendered.
 */
export class ReplayCursor {
  private readonly handle: NativeReplayHandle;

  constructor(c: ReplayCursorConfig) {
    this.handle = call(
      () =>
        new (load().NativeReplay)({
          fromTs: c.fromTs.toString(),
          toTs: c.toTs.toString(),
          seqLimit: c.seqLimit.toString(),
          resumeTs: c.resumeAfter?.tsEvent.toString(),
          resumeSeq: c.resumeAfter?.seq.toString(),
          kindsMask: c.kindsMask,
          books: c.books,
          depth: c.depth,
          snapshotEveryNs: c.snapshotEveryNs.toString(),
          format: c.format,
          levelsMax: c.levelsMax,
          symbolsJson: c.symbols.map((s) => JSON.stringify(s)),
          producersJson: c.producers.map((p) => JSON.stringify(p)),
          eventsBefore: c.eventsBefore,
          snapshotsBefore: c.snapshotsBefore,
          seqBefore: c.seqBefore.toString(),
        }),
    );
  }

  loadBook(source: number, encoded: Buffer): void {
    call(() => this.handle.loadBook(source, encoded));
  }

  push(source: number, records: Buffer, end: boolean): void {
    call(() => this.handle.push(source, records, end));
  }

  /** Sources not ended with fewer than `records` records buffered (to read ahead). */
  lowSources(records: number): number[] {
    return this.handle.lowSources(records);
  }

  /** Output due by venue time `untilTs`, about `maxBytes` at most. */
  render(untilTs: bigint, maxBytes: number): RenderStep {
    const r = call(() => this.handle.render(untilTs.toString(), maxBytes));
    if (r.step === 'need') return { chunk: r.chunk, step: 'need', source: r.source! };
    if (r.step === 'due') return { chunk: r.chunk, step: 'due', dueTs: BigInt(r.dueTs!) };
    if (r.step !== 'full' && r.step !== 'done') throw new Error(`unknown render step ${r.step}`);
    return { chunk: r.chunk, step: r.step };
  }

  get events(): number {
    return this.handle.events;
  }

  get snapshots(): number {
    return this.handle.snapshots;
  }

  get lastSeq(): bigint {
    return BigInt(this.handle.lastSeq);
  }

  /** The venue time of the last record passed. */
  get lastTs(): bigint {
    return BigInt(this.handle.lastTs);
  }
}

// ---- Pacing ----

/** The longest wait `pacerSleep` takes, in ns (src/pacer.rs `PACER_WAIT_NS_MAX`). */
export const PACER_WAIT_NS_MAX = 20e6;

/**
 * Resolves `waitNs` from now, to within the kernel's timer slack (tens of µs; Node's timers fire
 * on whole milliseconds). Rejects with code PACER_BUSY when too many waits are pending.
 */
export function pacerSleep(waitNs: number): Promise<void> {
  try {
    return call(() => load().pacerSleep(waitNs) as Promise<void>);
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

// ---- Time bars ----

type NativeBarsHandle = import('../native/index').NativeBars;

/** One request's fold of an instrument's trades (or quote mids) into bars (crates/market/src/bars.rs). */
export class BarFold {
  private readonly handle: NativeBarsHandle;

  constructor(config: { source: 'trades' | 'mid'; fromTs: bigint; toTs: bigint; intervalNs: bigint; barsMax: number }) {
    const { source, fromTs, toTs, intervalNs, barsMax } = config;
    this.handle = call(() => new (load().NativeBars)({ source, fromTs: fromTs.toString(), toTs: toTs.toString(), intervalNs: intervalNs.toString(), barsMax }));
  }

  /** Folds stored records (whole records, in seq order); true once the answer is settled. */
  push(records: Buffer): boolean {
    return call(() => this.handle.push(records));
  }

  /** Where the next answer starts when this one is full (`barsMax` bars); undefined: complete. */
  get nextTs(): bigint | undefined {
    const next = this.handle.nextTs;
    return next === null ? undefined : BigInt(next);
  }

  /** The bars as JSON array text. */
  renderJson(): Buffer {
    return this.handle.renderJson();
  }
}
