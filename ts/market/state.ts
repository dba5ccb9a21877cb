/**
 * The market-data part of the state machine, applied by the applier one committed ingest
 * batch at a time and written in the same WriteBatch as the applied index (so restarts and
 * snapshots carry it):
 *
 *   \0md/i/<symbol>              instrument id (ids are assigned in apply order, from 1)
 *   \0md/p/<producer>            the producer's id (assigned in apply order, from 0; stored records
 *                                carry it), high-water producerSeq and last seq range
 *   \0md/v/<publisher>/<inst>    the last venueSeq seen (gap detection)
 *   \0md/g/<seq>                 a detected gap (the newest `GAPS_KEPT_MAX` are kept)
 *   \0md/b/<inst>                the instrument's newest book checkpoint (a copy of the newest
 *                                \0md/c/ value): at load, rolled forward through the stored
 *                                events after its seq. Not rewritten on every batch: the live
 *                                book is rebuilt, and a batch writes only its events.
 *   \0md/e/<inst>/<seq>          the block of the instrument's events from one batch
 *   \0md/c/<inst>/<seq>          a book checkpoint: the book after the event at <seq>, every
 *                                `CHECKPOINT_EVERY_EVENTS` events of the instrument
 *   \0md/r/<inst>                where a purged instrument's kept history starts (purge.ts)
 *
 * Exactly-once: a record whose producerSeq is at or below its producer's high-water mark is a
 * duplicate (counted, skipped). Each kept record gets `seq = raftIndex × 2^16 + position`, one
 * total order. A venueSeq that skips ahead of the last one for (publisher, instrument) is a gap:
 * recorded, and the record carries F_MAYBE_BAD_BOOK, so the book says `maybeBad` until a
 * snapshot resets it. Deterministic: every replica computes the same from the same entries.
 *
 * Limits: `INSTRUMENTS_MAX` instruments and `PRODUCERS_MAX` producers (a batch that would add
 * more is refused whole),
 * `LEVELS_PER_SIDE_MAX` per book side, `GAPS_KEPT_MAX` gaps remembered.
 */
import { QuorumError } from '../errors';
import type { Engine, EngineOp } from '../native';
import { Books, type KeptBatch } from '../native_market';
import { invariant } from '../raft/assert';
import type { IngestBatch } from './batch';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET, OFFSET, RECORD_BYTES, recordToEvent } from './records';
import { MarketStream, type StreamSource } from './stream';
import type { ReplaySession } from './replay';
import { type KeptFrom, Retention } from './purge';

/** The instruments a purge cut, each with where its kept history now starts. */
export type PurgeResult = { kind: 'md_purged'; instruments: { instrument: string; fromSeq: string; fromTs: string }[] };

export const INSTRUMENTS_MAX = 10_000;
export const PRODUCERS_MAX = 10_000;
export const LEVELS_PER_SIDE_MAX = 10_000;
export const GAPS_KEPT_MAX = 1_000;

const P = '\u0000md/';
const KEYS = {
  instrument: (symbol: string) => `${P}i/${symbol}`,
  producer: (id: string) => `${P}p/${id}`,
  venue: (publisher: number, instrument: number) => `${P}v/${publisher}/${instrument}`,
  gap: (seq: bigint) => `${P}g/${seq.toString().padStart(20, '0')}`,
  book: (instrument: number) => `${P}b/${String(instrument).padStart(10, '0')}`,
  events: (instrument: number, seq: bigint) => `${P}e/${String(instrument).padStart(10, '0')}/${seq.toString().padStart(20, '0')}`,
  checkpoint: (instrument: number, seq: bigint) => `${P}c/${String(instrument).padStart(10, '0')}/${seq.toString().padStart(20, '0')}`,
};

/** Key prefixes of an instrument's stored events and book checkpoints (see history.ts). */
export const eventsPrefix = (instrument: number): string => `${P}e/${String(instrument).padStart(10, '0')}/`;
export const checkpointsPrefix = (instrument: number): string => `${P}c/${String(instrument).padStart(10, '0')}/`;
export const eventsKey = KEYS.events;
export const checkpointKey = KEYS.checkpoint;

/** A book checkpoint is stored after this many of an instrument's events (for book-at-a-time). */
export const CHECKPOINT_EVERY_EVENTS = 5_000;
/** Rows of the addon's `ingest` tables (crates/market keep.rs; src/market.rs `KeptBatch`). */
const PRODUCER_IN_ROW_BYTES = 13;
const PRODUCER_ROW_BYTES = 28;
const VENUE_ROW_BYTES = 16;
const GAP_ROW_BYTES = 32;
const GROUP_ROW_BYTES = 8;
/** Stored records rolled forward per `applyBatch` call while the books load. */
const ROLL_FORWARD_BYTES = 1 << 20;

export interface Gap {
  instrument: string;
  publisher: number;
  /** The missing venueSeq range, inclusive. */
  from: string;
  to: string;
  /** The seq of the record that revealed it. */
  seq: string;
}

interface Producer {
  /** Its index in `producerNames`: stored records name their producer by it. */
  id: number;
  /** The highest producerSeq applied. */
  hw: bigint;
  firstSeq: bigint;
  lastSeq: bigint;
}

export type IngestResult =
  | { kind: 'md'; firstSeq: string | null; lastSeq: string | null; applied: number; duplicates: number; gaps: Gap[] }
  | { kind: 'md_refused'; code: 'too_many_instruments' | 'too_many_producers'; message: string };

export class MarketState implements StreamSource {
  private books = new Books(LEVELS_PER_SIDE_MAX);
  /** Live streams: fed each batch's kept records once the batch is durable (`publish`). */
  readonly stream = new MarketStream(this);
  /** Kept records of the batch being applied, published once it is durable. */
  private pending: Buffer[] = [];
  /** Events per instrument since its last book checkpoint (restarts count from 0 again). */
  private sinceCheckpoint = new Map<number, number>();
  private ids = new Map<string, number>();
  /** Instrument names by id (from 1). */
  private symbols: string[] = [];
  private producers = new Map<string, Producer>();
  /** Producer names by id. Invariant: `producerNames[producers.get(n).id] === n`, no holes. */
  private producerNames: string[] = [];
  /** Oldest first; at most GAPS_KEPT_MAX. */
  private gaps: Gap[] = [];
  /** Events kept (duplicates not counted) since this process started: the dashboard's ticks/s. */
  eventsApplied = 0;
  /** Events dropped as duplicates, and venue gaps found, since this process started (metrics). */
  duplicatesDropped = 0;
  gapsFound = 0;
  /** This node's open replay sessions, by id (each bounded by the replay API's limit). */
  readonly replays = new Map<string, ReplaySession>();
  /** Where purged instruments' kept history starts (purge.ts). */
  private retention = Retention.empty();
  /**
   * The newest venue time of an event applied since start (after a restart, of the newest book
   * checkpoint until an event arrives): what `--md-retention` counts back from (md_retention.ts).
   */
  newestTsEvent = 0n;

  /**
   * Replaces everything with what `engine` holds (at start, and after a snapshot install). Read
   * whole first, then swapped in without a pause: a request served while an install loads (a
   * replay taking its producer table, a book read) sees the old state or the new, never half.
   */
  async load(engine: Engine): Promise<void> {
    const next = await readState(engine);
    const retention = await Retention.read(engine);
    // Streams cannot follow a jump to another state: their clients resume from their last seq.
    this.stream.endAll('the state was replaced (a snapshot was installed); resume from your last seq');
    this.pending = [];
    ({ books: this.books, ids: this.ids, symbols: this.symbols, producers: this.producers, producerNames: this.producerNames, gaps: this.gaps, sinceCheckpoint: this.sinceCheckpoint } = next);
    this.retention = retention;
    this.newestTsEvent = next.newestTsEvent;
  }

  /**
   * Drops every instrument's stored history before `beforeTs` (to its newest checkpoint before
   * it, purge.ts), reading `engine` as it is: the applier calls this first in a write batch.
   */
  purge(engine: Pick<Engine, 'scanNow'>, beforeTs: bigint, ops: EngineOp[]): PurgeResult {
    const instruments: PurgeResult['instruments'] = [];
    for (let id = 1; id < this.symbols.length; id++) {
      const kept = this.retention.purge(engine, id, beforeTs, ops);
      if (kept) instruments.push({ instrument: this.symbols[id], fromSeq: kept.seq.toString(), fromTs: kept.tsEvent.toString() });
    }
    return { kind: 'md_purged', instruments };
  }

  /** Key ranges purged by the batch just made durable: to compact now (purge.ts). */
  takeCompactions(): [Buffer, Buffer][] {
    return this.retention.takeCompactions();
  }

  /** Where instrument `id`'s kept history starts, if it was purged. */
  keptFrom(id: number): KeptFrom | undefined {
    return this.retention.keptFromOf(id);
  }

  private addInstrument(symbol: string, id: number): void {
    this.ids.set(symbol, id);
    this.symbols[id] = symbol;
  }


  /** Applies one committed batch at `index`, adding its writes to `ops`. */
  apply(batch: IngestBatch, index: number, ops: EngineOp[]): IngestResult {
    const fresh = batch.symbols.filter((s) => !this.ids.has(s));
    if (this.ids.size + fresh.length > INSTRUMENTS_MAX) {
      return { kind: 'md_refused', code: 'too_many_instruments', message: `at most ${INSTRUMENTS_MAX} instruments; this batch would add ${fresh.length} to ${this.ids.size}` };
    }
    const freshProducers = batch.producers.filter((p) => !this.producers.has(p)).length;
    if (this.producers.size + freshProducers > PRODUCERS_MAX) {
      return { kind: 'md_refused', code: 'too_many_producers', message: `at most ${PRODUCERS_MAX} producers; this batch would add ${freshProducers} to ${this.producers.size}` };
    }
    for (const symbol of fresh) {
      const id = this.ids.size + 1;
      this.addInstrument(symbol, id);
      const value = Buffer.alloc(4);
      value.writeUInt32LE(id, 0);
      ops.push({ op: 'put', key: KEYS.instrument(symbol), value });
    }
    const { kept, gaps } = this.keep(batch, index, ops);
    this.duplicatesDropped += batch.count - kept.count;
    this.gapsFound += gaps.length;
    if (kept.count === 0) return { kind: 'md', firstSeq: null, lastSeq: null, applied: 0, duplicates: batch.count, gaps: [] };
    this.checkpoint(kept.groups, ops);
    this.storeBlocks(kept, ops);
    this.pending.push(kept.records);
    this.eventsApplied += kept.count;
    const seqAt = (record: number) => kept.records.readBigUInt64LE(record * RECORD_BYTES + OFFSET.seq).toString();
    return { kind: 'md', firstSeq: seqAt(0), lastSeq: seqAt(kept.count - 1), applied: kept.count, duplicates: batch.count - kept.count, gaps };
  }

  /**
   * The addon keeps the records that are not duplicates (ids, seqs and gap flags written) and
   * applies them to the books in one call, per batch; here its tables become state and writes:
   * producer marks, venue high-water marks (the last of the batch per publisher and
   * instrument) and gaps.
   */
  private keep(batch: IngestBatch, index: number, ops: EngineOp[]): { kept: KeptBatch; gaps: Gap[] } {
    invariant(new Set(batch.producers).size === batch.producers.length, () => `batch at ${index} names a producer twice`);
    // A new producer gets the next id here: every producer in a batch has a record in it, and a
    // new producer's first record is never a duplicate, so it is stored below with its id.
    const rows = Buffer.alloc(PRODUCER_IN_ROW_BYTES * batch.producers.length);
    batch.producers.forEach((name, i) => {
      const p = this.producers.get(name);
      const at = i * PRODUCER_IN_ROW_BYTES;
      if (p) {
        rows[at] = 1;
        rows.writeBigUInt64LE(p.hw, at + 1);
      }
      rows.writeUInt32LE(p?.id ?? this.producerNames.push(name) - 1, at + 9);
    });
    const kept = this.books.ingest(batch.records, Uint32Array.from(batch.symbols, (s) => this.ids.get(s)!), rows, index);
    const t = kept.producers;
    for (let at = 0; at < t.length; at += PRODUCER_ROW_BYTES) {
      const i = t.readUInt32LE(at);
      const name = batch.producers[i];
      // The addon's marks are this batch's: a producer's first seq is that of its first batch.
      const firstSeq = this.producers.get(name)?.firstSeq ?? t.readBigUInt64LE(at + 12);
      const p = { id: rows.readUInt32LE(i * PRODUCER_IN_ROW_BYTES + 9), hw: t.readBigUInt64LE(at + 4), firstSeq, lastSeq: t.readBigUInt64LE(at + 20) };
      this.producers.set(name, p);
      ops.push({ op: 'put', key: KEYS.producer(name), value: Buffer.from(JSON.stringify({ id: p.id, hw: p.hw.toString(), firstSeq: p.firstSeq.toString(), lastSeq: p.lastSeq.toString() })) });
    }
    invariant(this.producerNames.length === this.producers.size, () => `batch at ${index}: ${this.producerNames.length} producer ids for ${this.producers.size} producers`);
    const v = kept.venueMarks;
    for (let at = 0; at < v.length; at += VENUE_ROW_BYTES) ops.push({ op: 'put', key: KEYS.venue(v.readUInt32LE(at), v.readUInt32LE(at + 4)), value: Buffer.from(v.readBigUInt64LE(at + 8).toString()) });
    const gaps: Gap[] = [];
    const g = kept.gaps;
    for (let at = 0; at < g.length; at += GAP_ROW_BYTES) {
      const gap = { instrument: batch.symbols[g.readUInt32LE(at)], publisher: g.readUInt32LE(at + 4), from: g.readBigUInt64LE(at + 8).toString(), to: g.readBigUInt64LE(at + 16).toString(), seq: g.readBigUInt64LE(at + 24).toString() };
      gaps.push(gap);
      this.rememberGap(gap, ops);
    }
    return { kept, gaps };
  }

  private rememberGap(gap: Gap, ops: EngineOp[]): void {
    this.gaps.push(gap);
    ops.push({ op: 'put', key: KEYS.gap(BigInt(gap.seq)), value: Buffer.from(JSON.stringify(gap)) });
    while (this.gaps.length > GAPS_KEPT_MAX) ops.push({ op: 'delete', key: KEYS.gap(BigInt(this.gaps.shift()!.seq)) });
  }

  /**
   * Every `CHECKPOINT_EVERY_EVENTS` events of an instrument, its book as of the end of this batch
   * (keyed by the seq of the instrument's last event in the batch), for book-at-a-time reads.
   */
  private checkpoint(groups: Buffer, ops: EngineOp[]): void {
    for (let at = 0; at < groups.length; at += GROUP_ROW_BYTES) {
      const id = groups.readUInt32LE(at);
      const since = (this.sinceCheckpoint.get(id) ?? 0) + groups.readUInt32LE(at + 4);
      this.sinceCheckpoint.set(id, since);
      if (since < CHECKPOINT_EVERY_EVENTS) continue;
      this.sinceCheckpoint.set(id, 0);
      // The book's seq is that of the instrument's last record in this batch (books.rs applies
      // every record's seq), which keys the checkpoint.
      const book = this.books.encode(id)!;
      ops.push({ op: 'put', key: KEYS.checkpoint(id, book.readBigUInt64LE(BOOK_SEQ_OFFSET)), value: book }, { op: 'put', key: KEYS.book(id), value: book });
    }
  }

  /** One block per instrument per batch (the addon grouped them), keyed by instrument then its first seq. */
  private storeBlocks(kept: KeptBatch, ops: EngineOp[]): void {
    let start = 0;
    for (let at = 0; at < kept.groups.length; at += GROUP_ROW_BYTES) {
      const end = start + kept.groups.readUInt32LE(at + 4) * RECORD_BYTES;
      const block = kept.blocks.subarray(start, end);
      ops.push({ op: 'put', key: KEYS.events(kept.groups.readUInt32LE(at), block.readBigUInt64LE(OFFSET.seq)), value: block });
      // (An instrument's venue times rise with its seqs: its block's last record is its newest.)
      const ts = block.readBigUInt64LE(block.length - RECORD_BYTES + OFFSET.tsEvent);
      if (ts > this.newestTsEvent) this.newestTsEvent = ts;
      start = end;
    }
    invariant(start === kept.blocks.length, () => `blocks hold ${kept.blocks.length} bytes, groups ${start}`);
  }

  /** The applied batches are durable: streams get their records. */
  publish(): void {
    for (const records of this.pending) this.stream.publish(records);
    this.pending = [];
  }

  symbolOf(id: number): string {
    return this.symbols[id];
  }

  get instrumentCount(): number {
    return this.ids.size;
  }

  /** Known instruments in id order (the first `max`). */
  instruments(max: number): string[] {
    return this.symbols.slice(1, max + 1);
  }

  /** Every known instrument's name (in no order). */
  names(): string[] {
    return [...this.ids.keys()];
  }

  idOf(symbol: string): number | undefined {
    return this.ids.get(symbol);
  }

  eventJson(record: Buffer, symbol: string): string {
    return JSON.stringify(recordToEvent(record, symbol, this.producerOf(record)));
  }

  private producerOf(record: Buffer): string {
    const id = record.readUInt32LE(OFFSET.producer);
    invariant(id < this.producerNames.length, () => `record ${record.readBigUInt64LE(OFFSET.seq)} names producer ${id} of ${this.producerNames.length}`);
    return this.producerNames[id];
  }

  /** Producer names by id (a replay renders stored records with them). */
  producerTable(): readonly string[] {
    return this.producerNames;
  }

  bookJson(id: number, depth: number): string | undefined {
    return this.books.view(id, this.symbols[id], depth);
  }

  /** The book of `symbol` as JSON text (depth levels per side), or undefined if unknown. */
  bookView(symbol: string, depth: number): string | undefined {
    const id = this.ids.get(symbol);
    return id === undefined ? undefined : this.books.view(id, symbol, depth);
  }

  get producerCount(): number {
    return this.producers.size;
  }

  /** Producers with their high-water marks, and the gaps remembered (newest last). */
  feeds(): { producers: { producerId: string; producerSeq: string; firstSeq: string; lastSeq: string }[]; gaps: Gap[] } {
    const producers = [...this.producers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([producerId, p]) => ({ producerId, producerSeq: p.hw.toString(), firstSeq: p.firstSeq.toString(), lastSeq: p.lastSeq.toString() }));
    return { producers, gaps: [...this.gaps] };
  }
}

/**
 * What reads of stored market data need: a scan. Requests pass the node's gated reader (they
 * never see a batch before the applier publishes it, ts/node/read_gate.ts); loading at start,
 * with nothing applying yet, passes the engine itself.
 */
export type EngineScan = Pick<Engine, 'scan'>;

/**
 * Applies instrument `id`'s stored records with seq > `after` to `books`, in seq order, until
 * `stop(record)` holds for one (that one and later are not applied); returns how many were.
 * Records go to the addon in batches of up to `ROLL_FORWARD_BYTES` (bounded memory). `check`
 * sees each page of blocks (`blocksAfter`).
 */
export async function rollForward(engine: EngineScan, books: Books, id: number, after: bigint, stop: (record: Buffer) => boolean = () => false, check?: PageCheck): Promise<number> {
  let pending: Buffer[] = [];
  let rolled = 0;
  const flush = () => {
    if (pending.length > 0) books.applyBatch(Buffer.concat(pending));
    pending = [];
  };
  scan: for await (const block of blocksAfter(engine, id, after, check)) {
    for (let at = 0; at < block.length; at += RECORD_BYTES) {
      const record = block.subarray(at, at + RECORD_BYTES);
      if (record.readBigUInt64LE(OFFSET.seq) <= after) continue;
      if (stop(record)) break scan;
      pending.push(record);
      rolled++;
      if (pending.length * RECORD_BYTES >= ROLL_FORWARD_BYTES) flush();
    }
  }
  flush();
  return rolled;
}

/** Bytes of blocks per read: a page of ticks needs a few blocks, not a thousand. */
const BLOCK_READ_BYTES_MAX = 1 << 20;

/** The first key after every key starting with `prefix` (which ends in '/'). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Called with each page of a read of stored blocks before its blocks are used: `readSeq` is the
 * last record seq read before the page (the read's start for the first page), `firstSeq` the
 * page's first record (undefined: the page is empty). Each page is one engine iterator, a
 * consistent view; between pages a purge may apply. Throws to end the read (purge.ts `purgeCheck`).
 */
export type PageCheck = (readSeq: bigint, firstSeq: bigint | undefined) => void;

/**
 * Instrument `id`'s stored blocks that may hold records with seq > `afterSeq`, in seq order. A
 * block's key is its first record's seq, and a batch's records share its Raft index (seq >> 16),
 * so the scan starts at the first key of `afterSeq`'s index: no earlier block holds a later
 * record. (Starting at the prefix made a page late in a day read the whole day.) The caller
 * skips the records at or before `afterSeq` in the first blocks.
 * `check` sees every page, the first included; a page holds at most `pageBytes` of blocks (or one).
 */
export async function* blocksAfter(engine: EngineScan, id: number, afterSeq: bigint, check?: PageCheck, pageBytes = BLOCK_READ_BYTES_MAX): AsyncGenerator<Buffer> {
  const prefix = eventsPrefix(id);
  const start = afterSeq === 0n ? prefix : eventsKey(id, (afterSeq >> 16n) << 16n);
  let after: Buffer | undefined;
  let readSeq = afterSeq;
  for (;;) {
    const page = await engine.scan({ start, end: prefixEnd(prefix), after, limit: 1000, bytesMax: pageBytes });
    const items = page.items;
    check?.(readSeq, items[0]?.value.readBigUInt64LE(OFFSET.seq));
    for (const item of items) yield item.value;
    if (!page.more || items.length === 0) return;
    const last = items[items.length - 1];
    readSeq = last.value.readBigUInt64LE(last.value.length - RECORD_BYTES + OFFSET.seq);
    after = last.key;
  }
}

/** Every key/value under `prefix` (after `after`, if given), a page at a time. */
export async function* scanPrefix(engine: EngineScan, prefix: string, from?: string): AsyncGenerator<[string, Buffer]> {
  let after: Buffer | string | undefined = from;
  for (;;) {
    const page = await engine.scan({ prefix, after, limit: 1000 });
    for (const item of page.items) yield [item.key.toString('utf8'), item.value];
    if (!page.more || page.items.length === 0) return;
    after = page.items[page.items.length - 1].key;
  }
}

/** Everything `MarketState.load` replaces, read from an engine. */
interface LoadedState {
  books: Books;
  ids: Map<string, number>;
  symbols: string[];
  producers: Map<string, Producer>;
  producerNames: string[];
  gaps: Gap[];
  sinceCheckpoint: Map<number, number>;
  newestTsEvent: bigint;
}

async function readState(engine: Engine): Promise<LoadedState> {
  const next: LoadedState = { books: new Books(LEVELS_PER_SIDE_MAX), ids: new Map(), symbols: [], producers: new Map(), producerNames: [], gaps: [], sinceCheckpoint: new Map(), newestTsEvent: 0n };
  for await (const [key, value] of scanPrefix(engine, `${P}i/`)) {
    const id = value.readUInt32LE(0);
    next.ids.set(key.slice(P.length + 2), id);
    next.symbols[id] = key.slice(P.length + 2);
  }
  for await (const [key, value] of scanPrefix(engine, `${P}p/`)) readProducer(next, key.slice(P.length + 2), value);
  invariant(next.producerNames.length === next.producers.size && !next.producerNames.includes(undefined as unknown as string), () => `producer ids have holes: ${next.producers.size} producers, ids up to ${next.producerNames.length - 1}`);
  for await (const [key, value] of scanPrefix(engine, `${P}v/`)) {
    const [publisher, instrument] = key.slice(P.length + 2).split('/').map(Number);
    next.books.setVenue(publisher, instrument, BigInt(value.toString()));
  }
  for await (const [, value] of scanPrefix(engine, `${P}g/`)) next.gaps.push(JSON.parse(value.toString()) as Gap);
  await readBooks(engine, next);
  return next;
}

function readProducer(next: LoadedState, name: string, value: Buffer): void {
  const p = JSON.parse(value.toString()) as { id?: number; hw: string; firstSeq: string; lastSeq: string };
  if (p.id === undefined) throw new QuorumError('DATA_LAYOUT_UNSUPPORTED', `market data written before producers had ids (producer ${JSON.stringify(name)}); start this node with an empty data directory`);
  next.producers.set(name, { id: p.id, hw: BigInt(p.hw), firstSeq: BigInt(p.firstSeq), lastSeq: BigInt(p.lastSeq) });
  next.producerNames[p.id] = name;
}

/**
 * The live books: each instrument's newest checkpoint rolled forward through its stored events
 * after it (an instrument without one: all of its events, fewer than CHECKPOINT_EVERY_EVENTS).
 */
async function readBooks(engine: Engine, next: LoadedState): Promise<void> {
  const from = new Map<number, bigint>();
  for await (const [key, value] of scanPrefix(engine, `${P}b/`)) {
    const id = Number(key.slice(P.length + 2));
    next.books.load(id, value);
    from.set(id, value.readBigUInt64LE(BOOK_SEQ_OFFSET));
    const ts = value.readBigUInt64LE(BOOK_TS_OFFSET);
    if (ts > next.newestTsEvent) next.newestTsEvent = ts;
  }
  for (const id of next.ids.values()) next.sinceCheckpoint.set(id, await rollForward(engine, next.books, id, from.get(id) ?? 0n));
}
