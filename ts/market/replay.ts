/**
 * One replay session: the stored events of chosen instruments in one deterministic order
 * (`tsEvent`, then `seq`), paced against venue time at `speed` × real time (or as fast as the
 * reader takes them), with book snapshots, on one response. The merge, the scratch books and the
 * rendering are the addon's (`ReplayCursor`); this file feeds it stored blocks, paces it and
 * follows the reader.
 *
 * - Pacing: one wake-up per turn writes everything due by then (no timer per event). Venue time
 *   `v` is due at wall time `anchor.wall + (v - anchor.venue) / speed`.
 * - Backpressure: rendering waits while more than `OUTPUT_BUFFER_BYTES_MAX` is buffered for the
 *   reader, so a slow reader slows its session — the schedule is kept and the lag reported —
 *   and memory stays at that plus one chunk (`CHUNK_BYTES_MAX`) and one fetch of blocks per
 *   instrument (`BLOCKS_PER_FETCH`).
 * - Consistency: a session reads only records with `seq ≤ seqLimit`, the cut taken when it
 *   opened (the applied index then), so the same request gives the same bytes on every node.
 * - Fairness: each session yields the event loop after every chunk.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { QuorumError } from '../errors';
import { invariant } from '../raft/assert';
import { pacerSleep, ReplayCursor } from '../native_market';
import { ScheduleError } from './schedule_error';
import { BOOK_SEQ_OFFSET, KIND_CODES, OFFSET, RECORD_BYTES } from './records';
import { READ_BYTES_PACED, ReplayFeed } from './replay_feed';
import { newestCheckpoint } from './history';
import { compactedError } from './purge';
import { checkpointKey, checkpointsPrefix, type EngineScan, eventsKey, eventsPrefix, LEVELS_PER_SIDE_MAX, prefixEnd } from './state';

export type ReplayKind = 'delta' | 'trade' | 'quote' | 'book';
export type ReplayFormat = 'ndjson' | 'sse' | 'binary';

export interface ReplaySpec {
  /** `keptFromSeq`: where a purged instrument's kept history starts (its base checkpoint's seq). */
  instruments: { id: number; symbol: string; keptFromSeq?: bigint }[];
  /** Producer names by id (the state's table when the session opened: it covers the cut). */
  producers: readonly string[];
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
  write(chunk: Buffer): void;
  /** Bytes written but not yet taken by the reader's connection. */
  buffered(): number;
  /** Resolves once everything buffered was taken (or the reader left). */
  drained(): Promise<void>;
  end(): void;
  /** The reader went away. */
  readonly closed: boolean;
}

/** Bytes rendered per turn: large enough to amortise a write, small enough to share the loop. */
export const CHUNK_BYTES_MAX = 256 << 10;
/**
 * Output buffered per session before rendering waits for the reader: a few chunks, so the next
 * is rendered while the last is on its way (waiting for each to drain left the node idle).
 */
export const OUTPUT_BUFFER_BYTES_MAX = 1 << 20;
const U64_MAX = 2n ** 64n - 1n;
/**
 * Pacing resolution: a paced session renders everything due within `PACE_HALF_WINDOW_NS` of now
 * and wakes at most once per `PACE_PERIOD_NS` (2 × the half window), so each event leaves within
 * ± the half window of its due time (plus the wake-up's own latency) at ≤ 2,000 wake-ups/s.
 */
const PACE_PERIOD_NS = 500_000n;
const PACE_HALF_WINDOW_NS = PACE_PERIOD_NS / 2n;
/** Waits shorter than this end on the addon's pacer (sub-ms); longer ones on a timer first. */
const PRECISE_WAIT_NS = 2_000_000n;
/** Longer waits are taken in steps (timers take at most 2^31 - 1 ms). */
const SLEEP_MS_MAX = 60_000;

export type SessionState = 'running' | 'paused' | 'done';

export class ReplaySession {
  readonly id = randomBytes(6).toString('hex');
  readonly openedAt = new Date().toISOString();
  state: SessionState = 'running';
  private cursor!: ReplayCursor;
  private feed!: ReplayFeed;
  /** Output of the roll-forward (opening snapshots), written before anything else. */
  private primed: Buffer[] = [];
  /** Bumped when a seek replaces the cursor: work for an older one is dropped. */
  private generation = 0;
  private anchor = { wallNs: 0n, venueTs: 0n };
  private pausedAtVenue = 0n;
  /** Without a `from`, pacing starts at the first event (not at venue time 0). */
  private anchorAtFirst: boolean;
  private lagNs = 0n;
  /** Paced sessions: how far from their due times the written events left. */
  readonly scheduleError = new ScheduleError();
  /** The venue time of the next event to render, or a time at or before it. */
  private nextTs = 0n;
  /** Wall time (hrtime ns) of the last paced wake-up. */
  private wokeAtNs = 0n;
  private wake: (() => void) | undefined;
  private stopped = false;
  /** The venue time the cursor opened at: progress shows it until the cursor writes an event (not 0 after a seek). */
  private openedAtTs = 0n;

  constructor(
    private readonly engine: () => EngineScan,
    readonly spec: ReplaySpec,
    private readonly seqLimit: bigint,
    private readonly out: ReplayOutput,
    /** Where a purged instrument's kept history starts now (a purge while the session reads ends it: 'compacted'). */
    private readonly keptSeq: (id: number) => bigint | undefined = () => undefined,
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
        this.out.write(Buffer.concat(this.primed.splice(0)));
        if (this.out.buffered() > OUTPUT_BUFFER_BYTES_MAX) await this.out.drained();
        continue;
      }
      const generation = this.generation;
      const cursor = this.cursor;
      const eventsBefore = cursor.events;
      const r = cursor.render(this.spec.speed === 'max' ? U64_MAX : this.venueNow(PACE_HALF_WINDOW_NS), CHUNK_BYTES_MAX);
      this.feed.readAhead(); // storage reads overlap rendering and the reader
      if (r.chunk.length > 0) {
        this.noteLag(r.step, cursor.lastTs);
        this.out.write(r.chunk);
        this.noteScheduleError(cursor.events - eventsBefore, cursor.lastTs);
        if (this.out.buffered() > OUTPUT_BUFFER_BYTES_MAX) await this.out.drained();
      }
      if (generation !== this.generation) continue; // a seek replaced the cursor meanwhile
      this.nextTs = r.step === 'due' ? r.dueTs : bigMax(this.nextTs, cursor.lastTs);
      if (r.step === 'done') {
        this.state = 'done';
        this.out.end();
        return;
      }
      if (r.step === 'need') await this.feed.read(r.source);
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
      marketTime: (c?.lastTs || this.openedAtTs).toString(),
      lagMs: Number(this.lagNs) / 1e6,
      scheduleErrorMs: this.scheduleError.summary(),
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
      producers: this.spec.producers,
      eventsBefore: previous?.events ?? 0,
      snapshotsBefore: previous?.snapshots ?? 0,
      seqBefore: resume?.seq ?? previous?.lastSeq ?? 0n,
    });
    const checkpoints = await Promise.all(this.spec.instruments.map((instrument) => checkpointBefore(this.engine(), instrument, fromTs, resume, this.keptSeq(instrument.id))));
    checkpoints.forEach((cp, i) => cp && cursor.loadBook(i, cp.book));
    const feed = new ReplayFeed(this.engine, cursor, this.spec.instruments.map((i) => i.id), checkpoints.map((cp) => cp?.seq ?? 0n), this.keptSeq);
    const startTs = resume ? resume.tsEvent : fromTs;
    const primed = await prime(cursor, feed, startTs);
    if (this.spec.speed !== 'max') feed.readBytesMax = READ_BYTES_PACED;
    this.feed?.retire();
    this.openedAtTs = startTs;
    this.cursor = cursor;
    this.feed = feed;
    this.primed = primed;
    this.generation++;
    this.anchor = { wallNs: process.hrtime.bigint(), venueTs: startTs };
    this.pausedAtVenue = startTs;
    this.nextTs = startTs;
  }

  private anchorAt(venueTs: bigint): void {
    this.anchorAtFirst = false;
    this.anchor = { wallNs: process.hrtime.bigint(), venueTs };
    this.pausedAtVenue = venueTs;
  }

  /** The venue time due now (or `aheadNs` of wall time from now). */
  private venueNow(aheadNs = 0n): bigint {
    if (this.state === 'paused') return this.pausedAtVenue;
    const speed = this.spec.speed as number;
    const elapsedNs = Number(process.hrtime.bigint() + aheadNs - this.anchor.wallNs);
    return this.anchor.venueTs + BigInt(Math.floor(elapsedNs * speed));
  }

  private dueWallNs(venueTs: bigint): bigint {
    const speed = this.spec.speed as number;
    return this.anchor.wallNs + BigInt(Math.ceil(Number(venueTs - this.anchor.venueTs) / speed));
  }

  /**
   * A chunk of `events` (the first at or after `nextTs`, the last at `lastTs`) was just written:
   * each is counted with the chunk's largest error — its first event's lateness or its last
   * one's earliness (an upper bound per event).
   */
  private noteScheduleError(events: number, lastTs: bigint): void {
    if (this.spec.speed === 'max' || events === 0 || this.anchorAtFirst) return;
    const now = process.hrtime.bigint();
    const late = now - this.dueWallNs(this.nextTs);
    const early = this.dueWallNs(lastTs) - now;
    this.scheduleError.add(Number(bigMax(bigMax(late, early), 0n)), events);
  }

  /** Output still pending past its due time: how late the last event written was. */
  private noteLag(step: string, lastTs: bigint): void {
    if (this.spec.speed === 'max') return;
    const late = process.hrtime.bigint() - this.dueWallNs(lastTs);
    this.lagNs = step === 'due' || late < 0n ? 0n : late;
  }

  /**
   * Waits until venue time `ts` is due, less `PACE_HALF_WINDOW_NS`, and at least
   * `PACE_PERIOD_NS` after the last wake-up (or a pause, seek or stop). No spinning: spinning on
   * setImmediate for the last stretch kept a core busy, and on a small machine the scheduler then
   * preempted the spinning thread for whole time slices (5–10 ms late). The last stretch (under
   * `PRECISE_WAIT_NS`) is the addon pacer's: Node's timers fire on whole milliseconds.
   */
  private async sleepUntil(ts: bigint): Promise<void> {
    const generation = this.generation;
    const atNs = bigMax(this.dueWallNs(ts) - PACE_HALF_WINDOW_NS, this.wokeAtNs + PACE_PERIOD_NS);
    for (;;) {
      if (this.state !== 'running' || this.stopped || generation !== this.generation) return;
      const leftNs = atNs - process.hrtime.bigint();
      if (leftNs <= 0n) break;
      if (leftNs > PRECISE_WAIT_NS) await this.sleep(Math.min(SLEEP_MS_MAX, Math.floor(Number(leftNs - PRECISE_WAIT_NS / 2n) / 1e6)));
      else await this.sleep(undefined, Number(leftNs));
    }
    this.wokeAtNs = process.hrtime.bigint();
  }

  /**
   * Sleeps `ms` on a timer, or `preciseNs` on the addon's pacer (a timer of the next whole
   * millisecond if the pacer refuses), or until woken (both undefined); `wake` ends it early.
   */
  private sleep(ms: number | undefined, preciseNs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const done = (): void => {
        if (settled) return; // (a pacer wait outlives an early wake: it then does nothing)
        settled = true;
        if (timer) clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms));
      else if (preciseNs !== undefined) {
        pacerSleep(preciseNs).then(done, () => settled || (timer = setTimeout(done, Math.ceil(preciseNs / 1e6))));
      }
      this.wake = done;
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

const bigMax = (a: bigint, b: bigint): bigint => (a > b ? a : b);

function kindsMask(kinds: Set<ReplayKind>): number {
  let mask = 0;
  for (const k of kinds) if (k !== 'book') mask |= 1 << KIND_CODES[k];
  return mask;
}

/**
 * Applies the records before `startTs` (silently) and renders what is due at it (opening
 * snapshots), reading blocks as the cursor asks — every instrument's first read at once;
 * returns that output.
 */
async function prime(cursor: ReplayCursor, feed: ReplayFeed, startTs: bigint): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    feed.readAhead();
    const r = cursor.render(startTs === 0n ? 0n : startTs - 1n, CHUNK_BYTES_MAX);
    if (r.chunk.length > 0) out.push(r.chunk);
    if (r.step !== 'need') return out;
    await feed.read(r.source);
  }
}

/**
 * Binary streams open with a JSON header frame (type 0): the instruments' ids and names, and the
 * producers' (a record's producer field is its id).
 */
function header(spec: ReplaySpec): Buffer {
  const instruments = Object.fromEntries(spec.instruments.map((i) => [String(i.id), i.symbol]));
  const json = Buffer.from(JSON.stringify({ instruments, producers: Object.fromEntries(spec.producers.map((name, id) => [String(id), name])) }));
  const frame = Buffer.alloc(5 + json.length);
  frame[0] = 0;
  frame.writeUInt32LE(json.length, 1);
  json.copy(frame, 5);
  return frame;
}

/**
 * The newest checkpoint whose every event comes before the replay's first: venue time before
 * `fromTs`, or at or before the resume position.
 */
async function checkpointBefore(engine: EngineScan, instrument: ReplaySpec['instruments'][number], fromTs: bigint, resume: { tsEvent: bigint; seq: bigint } | undefined, keptNow: bigint | undefined): Promise<{ seq: bigint; book: Buffer } | undefined> {
  const { id, keptFromSeq } = instrument;
  const found = await newestCheckpoint(engine, id, (seq, ts) => ts < fromTs || (resume !== undefined && (ts < resume.tsEvent || (ts === resume.tsEvent && seq <= resume.seq))));
  if (found !== undefined || keptFromSeq === undefined) return found;
  // A start before a purge's cut: the replay starts where the kept history does, from its base
  // book (an empty book and the kept events would be a wrong book).
  const page = await engine.scan({ start: checkpointKey(id, keptFromSeq), end: prefixEnd(checkpointsPrefix(id)), limit: 1 });
  const base = page.items[0];
  // Gone: a later purge dropped it (and the history after it this session would read).
  if (base === undefined || base.value.readBigUInt64LE(BOOK_SEQ_OFFSET) !== keptFromSeq) throw compactedError(instrument.symbol, keptNow ?? keptFromSeq, 'were purged while this session read them');
  return { seq: keptFromSeq, book: base.value };
}

/** The venue time of instrument `id`'s record with `seq`, if it has one. */
async function recordTs(engine: EngineScan, id: number, seq: bigint): Promise<bigint | undefined> {
  // A block holds one batch's records of an instrument: its key's seq shares `seq`'s index.
  const page = await engine.scan({ start: eventsKey(id, (seq >> 16n) << 16n), end: prefixEnd(eventsPrefix(id)), limit: 1 });
  const block = page.items[0]?.value;
  if (!block) return undefined;
  for (let at = 0; at < block.length; at += RECORD_BYTES) {
    if (block.readBigUInt64LE(at + OFFSET.seq) === seq) return block.readBigUInt64LE(at + OFFSET.tsEvent);
  }
  return undefined;
}
