/**
 * One replay session: the stored events of chosen instruments in one deterministic order
 * (`tsEvent`, then `seq`), paced against venue time at `speed` × real time (or as fast as the
 * reader takes them), with book snapshots, on one response. The merge, the scratch books and the
 * rendering are the addon's (`ReplayCursor`); this file feeds it stored blocks, paces it and
 * follows the reader.
 *
 * - Pacing: one wake-up per turn writes everything due by then (no timer per event). Venue time
 *   `v` is due at wall time `anchor.wall + (v - anchor.venue) / speed`.
 * - Backpressure: a chunk is written only once the reader took the last one (`drain`), so a slow
 *   reader slows its session — the schedule is kept and the lag reported — and buffers stay at
 *   one chunk (`CHUNK_BYTES_MAX`) plus one fetch of blocks per instrument (`BLOCKS_PER_FETCH`).
 * - Consistency: a session reads only records with `seq ≤ seqLimit`, the cut taken when it
 *   opened (the applied index then), so the same request gives the same bytes on every node.
 * - Fairness: each session yields the event loop after every chunk.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { QuorumError } from '../errors';
import { invariant } from '../raft/assert';
import { type Engine, ReplayCursor } from '../native';
import { KIND_CODES, OFFSET, RECORD_BYTES } from './records';
import { checkpointsPrefix, eventsKey, eventsPrefix, LEVELS_PER_SIDE_MAX, scanPrefix } from './state';

export type ReplayKind = 'delta' | 'trade' | 'quote' | 'book';
export type ReplayFormat = 'ndjson' | 'sse' | 'binary';

export interface ReplaySpec {
  instruments: { id: number; symbol: string }[];
  kinds: Set<ReplayKind>;
  fromTs: bigint;
  /** Exclusive. */
  toTs: bigint;
  speed: number | 'max';
  depth: number;
  /** 0n: a snapshot after each change of a book. */
  snapshotEveryNs: bigint;
  format: ReplayFormat;
  /** Resume after this seq (the `seq` of the last event line a broken session delivered). */
  fromSeq?: bigint;
}

/** Where the output goes (an HTTP response). */
export interface ReplayOutput {
  /** False: wait for `drained` before writing more. */
  write(chunk: Buffer): boolean;
  drained(): Promise<void>;
  end(): void;
  /** The reader went away. */
  readonly closed: boolean;
}

/** Bytes rendered per turn: large enough to amortise a write, small enough to share the loop. */
export const CHUNK_BYTES_MAX = 256 << 10;
/** Stored blocks read per instrument per fetch (a block is one batch's events of an instrument). */
export const BLOCKS_PER_FETCH = 16;
const U64_MAX = 2n ** 64n - 1n;
/** A wake-up closer than this to its due time spins on `setImmediate` instead (timers are ms-coarse). */
const SPIN_NS = 1_500_000n;
/** Longer waits are taken in steps (timers take at most 2^31 - 1 ms). */
const SLEEP_MS_MAX = 60_000;

export type SessionState = 'running' | 'paused' | 'done';

interface Scan {
  /** The instrument's event blocks from `start` (inclusive) to `end` (exclusive). */
  start: string;
  end: string;
  /** The last block key read (the next fetch continues after it). */
  after?: Buffer;
}

/** The first key after every key starting with `prefix` (which ends in '/'). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export class ReplaySession {
  readonly id = randomBytes(6).toString('hex');
  readonly openedAt = new Date().toISOString();
  state: SessionState = 'running';
  private cursor!: ReplayCursor;
  private scans: Scan[] = [];
  /** Output of the roll-forward (opening snapshots), written before anything else. */
  private primed: Buffer[] = [];
  /** Bumped when a seek replaces the cursor: work for an older one is dropped. */
  private generation = 0;
  private anchor = { wallNs: 0n, venueTs: 0n };
  private pausedAtVenue = 0n;
  /** Without a `from`, pacing starts at the first event (not at venue time 0). */
  private anchorAtFirst: boolean;
  private lagNs = 0n;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly engine: () => Engine,
    readonly spec: ReplaySpec,
    private readonly seqLimit: bigint,
    private readonly out: ReplayOutput,
  ) {
    this.anchorAtFirst = spec.fromTs === 0n && spec.fromSeq === undefined;
  }

  /** Opens the cursor at `fromTs` (or after `fromSeq`); a bad `fromSeq` fails here, before any output. */
  async prepare(): Promise<void> {
    const resume = this.spec.fromSeq === undefined ? undefined : await this.position(this.spec.fromSeq);
    await this.open(this.spec.fromTs, resume);
  }

  /** Writes until done, the reader leaves or `stop`. */
  async run(): Promise<void> {
    invariant(this.cursor !== undefined, 'prepare() opens the cursor before run()');
    if (this.spec.format === 'binary') this.out.write(header(this.spec));
    while (!this.stopped && !this.out.closed) {
      if (this.state === 'paused') {
        await this.sleep(undefined);
        continue;
      }
      if (this.primed.length > 0) {
        const chunk = Buffer.concat(this.primed.splice(0));
        if (!this.out.write(chunk)) await this.out.drained();
        continue;
      }
      const generation = this.generation;
      const cursor = this.cursor;
      const r = cursor.render(this.spec.speed === 'max' ? U64_MAX : this.venueNow(), CHUNK_BYTES_MAX);
      if (r.chunk.length > 0) {
        this.noteLag(r.step, cursor.lastTs);
        if (!this.out.write(r.chunk)) await this.out.drained();
      }
      if (generation !== this.generation) continue; // a seek replaced the cursor meanwhile
      if (r.step === 'done') {
        this.state = 'done';
        this.out.end();
        return;
      }
      if (r.step === 'need') await this.fetch(r.source, generation);
      else if (r.step === 'due' && this.anchorAtFirst) this.anchorAt(r.dueTs);
      else if (r.step === 'due') await this.sleepUntil(r.dueTs);
      else await turn(); // 'full': let other sessions and requests have the loop
    }
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.pausedAtVenue = this.venueNow();
    this.state = 'paused';
    this.wake?.();
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.anchor = { wallNs: process.hrtime.bigint(), venueTs: this.pausedAtVenue };
    this.state = 'running';
    this.wake?.();
  }

  /** Continues from venue time `ts`: books rebuilt there, opening snapshots written again. */
  async seek(ts: bigint): Promise<void> {
    invariant(this.state !== 'done', 'a finished session cannot seek');
    await this.open(ts, undefined);
    this.anchorAtFirst = false;
    this.wake?.();
  }

  /** Stops writing (the output is ended by its owner). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  progress(): Record<string, unknown> {
    const c = this.cursor;
    return {
      id: this.id,
      state: this.state,
      instruments: this.spec.instruments.map((i) => i.symbol),
      speed: this.spec.speed,
      from: this.spec.fromTs.toString(),
      to: this.spec.toTs === U64_MAX ? null : this.spec.toTs.toString(),
      events: c?.events ?? 0,
      snapshots: c?.snapshots ?? 0,
      seq: (c?.lastSeq ?? 0n).toString(),
      marketTime: (c?.lastTs ?? 0n).toString(),
      lagMs: Number(this.lagNs) / 1e6,
      openedAt: this.openedAt,
    };
  }

  /**
   * A new cursor at `fromTs` (after `resume`), each book from its newest usable checkpoint, and
   * primed: the silent roll-forward to the start is done before the pacing clock starts, so
   * the first events are not late by the time it took.
   */
  private async open(fromTs: bigint, resume: { tsEvent: bigint; seq: bigint } | undefined): Promise<void> {
    const previous = this.cursor;
    const cursor = new ReplayCursor({
      fromTs,
      toTs: this.spec.toTs,
      seqLimit: this.seqLimit,
      resumeAfter: resume,
      kindsMask: kindsMask(this.spec.kinds),
      books: this.spec.kinds.has('book'),
      depth: this.spec.depth,
      snapshotEveryNs: this.spec.snapshotEveryNs,
      format: this.spec.format,
      levelsMax: LEVELS_PER_SIDE_MAX,
      symbols: this.spec.instruments.map((i) => i.symbol),
      eventsBefore: previous?.events ?? 0,
      snapshotsBefore: previous?.snapshots ?? 0,
    });
    const checkpoints = await Promise.all(this.spec.instruments.map(({ id }) => checkpointBefore(this.engine(), id, fromTs, resume)));
    const scans = this.spec.instruments.map(({ id }, i): Scan => {
      const cp = checkpoints[i];
      if (cp) cursor.loadBook(i, cp.book);
      return { start: cp ? eventsKey(id, cp.seq + 1n) : eventsPrefix(id), end: prefixEnd(eventsPrefix(id)) };
    });
    const startTs = resume ? resume.tsEvent : fromTs;
    const primed = await prime(cursor, startTs, (i) => this.read(scans[i]));
    this.cursor = cursor;
    this.scans = scans;
    this.primed = primed;
    this.generation++;
    this.anchor = { wallNs: process.hrtime.bigint(), venueTs: startTs };
    this.pausedAtVenue = startTs;
  }

  /** Reads the next blocks of source `i` into the cursor. */
  private async fetch(i: number, generation: number): Promise<void> {
    const cursor = this.cursor;
    const { records, end } = await this.read(this.scans[i]);
    if (generation !== this.generation) return;
    cursor.push(i, records, end);
  }

  /** The next `BLOCKS_PER_FETCH` blocks of a scan, and whether none follow. */
  private async read(scan: Scan): Promise<{ records: Buffer; end: boolean }> {
    const page = await this.engine().scan({ start: scan.start, end: scan.end, after: scan.after, limit: BLOCKS_PER_FETCH });
    const last = page.items.at(-1);
    if (last) scan.after = last.key;
    const values = page.items.map((item) => item.value);
    return { records: values.length === 1 ? values[0] : Buffer.concat(values), end: !page.more || page.items.length === 0 };
  }

  private anchorAt(venueTs: bigint): void {
    this.anchorAtFirst = false;
    this.anchor = { wallNs: process.hrtime.bigint(), venueTs };
    this.pausedAtVenue = venueTs;
  }

  /** The venue time due now. */
  private venueNow(): bigint {
    if (this.state === 'paused') return this.pausedAtVenue;
    const speed = this.spec.speed as number;
    const elapsedNs = Number(process.hrtime.bigint() - this.anchor.wallNs);
    return this.anchor.venueTs + BigInt(Math.floor(elapsedNs * speed));
  }

  private dueWallNs(venueTs: bigint): bigint {
    const speed = this.spec.speed as number;
    return this.anchor.wallNs + BigInt(Math.ceil(Number(venueTs - this.anchor.venueTs) / speed));
  }

  /** Output still pending past its due time: how late the last event written was. */
  private noteLag(step: string, lastTs: bigint): void {
    if (this.spec.speed === 'max') return;
    const late = process.hrtime.bigint() - this.dueWallNs(lastTs);
    this.lagNs = step === 'due' || late < 0n ? 0n : late;
  }

  /** Waits until venue time `ts` is due (or a pause, seek or stop). */
  private async sleepUntil(ts: bigint): Promise<void> {
    const generation = this.generation;
    for (;;) {
      if (this.state !== 'running' || this.stopped || generation !== this.generation) return;
      const leftNs = this.dueWallNs(ts) - process.hrtime.bigint();
      if (leftNs <= 0n) return;
      if (leftNs <= SPIN_NS) await turn();
      else await this.sleep(Math.min(SLEEP_MS_MAX, Number(leftNs - SPIN_NS / 2n) / 1e6));
    }
  }

  /** Sleeps `ms` (undefined: until woken); `wake` ends it early. */
  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, Math.max(0, ms));
      function done(): void {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** The venue time of the record with `seq` among the session's instruments (to resume after it). */
  private async position(seq: bigint): Promise<{ tsEvent: bigint; seq: bigint }> {
    for (const { id } of this.spec.instruments) {
      const ts = await recordTs(this.engine(), id, seq);
      if (ts !== undefined) return { tsEvent: ts, seq };
    }
    throw new QuorumError('invalid_body', `fromSeq ${seq} is not the seq of an event of these instruments`);
  }
}

function kindsMask(kinds: Set<ReplayKind>): number {
  let mask = 0;
  for (const k of kinds) if (k !== 'book') mask |= 1 << KIND_CODES[k];
  return mask;
}

/**
 * Applies the records before `startTs` (silently) and renders what is due at it (opening
 * snapshots), reading blocks as the cursor asks; returns that output.
 */
async function prime(cursor: ReplayCursor, startTs: bigint, read: (source: number) => Promise<{ records: Buffer; end: boolean }>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    const r = cursor.render(startTs === 0n ? 0n : startTs - 1n, CHUNK_BYTES_MAX);
    if (r.chunk.length > 0) out.push(r.chunk);
    if (r.step !== 'need') return out;
    const { records, end } = await read(r.source);
    cursor.push(r.source, records, end);
  }
}

/** Binary streams open with a JSON header frame (type 0): the instruments' ids and names. */
function header(spec: ReplaySpec): Buffer {
  const json = Buffer.from(JSON.stringify({ instruments: Object.fromEntries(spec.instruments.map((i) => [String(i.id), i.symbol])) }));
  const frame = Buffer.alloc(5 + json.length);
  frame[0] = 0;
  frame.writeUInt32LE(json.length, 1);
  json.copy(frame, 5);
  return frame;
}

/**
 * The newest checkpoint whose every event comes before the replay's first: venue time before
 * `fromTs`, or at or before the resume position. Checkpoints are in seq order, so in venue-time
 * order too (one venue clock per instrument).
 */
async function checkpointBefore(engine: Engine, id: number, fromTs: bigint, resume: { tsEvent: bigint; seq: bigint } | undefined): Promise<{ seq: bigint; book: Buffer } | undefined> {
  let best: { seq: bigint; book: Buffer } | undefined;
  for await (const [, book] of scanPrefix(engine, checkpointsPrefix(id))) {
    const seq = book.readBigUInt64LE(1);
    const ts = book.readBigUInt64LE(9);
    const before = ts < fromTs || (resume !== undefined && (ts < resume.tsEvent || (ts === resume.tsEvent && seq <= resume.seq)));
    if (!before) break;
    best = { seq, book };
  }
  return best;
}

/** The venue time of instrument `id`'s record with `seq`, if it has one. */
async function recordTs(engine: Engine, id: number, seq: bigint): Promise<bigint | undefined> {
  // A block holds one batch's records of an instrument: its key's seq shares `seq`'s index.
  const page = await engine.scan({ start: eventsKey(id, (seq >> 16n) << 16n), end: prefixEnd(eventsPrefix(id)), limit: 1 });
  const block = page.items[0]?.value;
  if (!block) return undefined;
  for (let at = 0; at < block.length; at += RECORD_BYTES) {
    if (block.readBigUInt64LE(at + OFFSET.seq) === seq) return block.readBigUInt64LE(at + OFFSET.tsEvent);
  }
  return undefined;
}
