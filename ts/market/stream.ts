/**
 * Live market streams: the applier publishes each applied batch's records here once the batch
 * is durable; subscribers get, per instrument they follow, a book snapshot and then every later
 * event (Databento's snapshot-then-live), or — resuming from a seq — the stored events after it
 * and then the live ones, with nothing lost or repeated across the switch.
 *
 * Invariant: a subscriber receives an instrument's events in seq order, each once: live records
 * at or below the seq it has already covered for that instrument (by its snapshot or its
 * replay) are skipped.
 */
import { OFFSET, RECORD_BYTES } from './records';

export type StreamKind = 'delta' | 'trade' | 'quote' | 'book';
const KIND_OF_CODE: StreamKind[] = ['delta', 'delta', 'trade', 'quote'];

export interface StreamSink {
  /** Lines to send (without newlines); false: the sink gave up (it is dropped). */
  send(lines: string[]): boolean;
  end(reason: string): void;
}

export interface Subscription {
  /** Instrument ids followed (resolved from names by the caller). */
  instruments: Set<number>;
  kinds: Set<StreamKind>;
  depth: number;
  sink: StreamSink;
  /** Per instrument: the highest seq already sent (live records at or below are skipped). */
  covered: Map<number, bigint>;
  /** While catching up from storage, live batches wait here (then `covered` dedups them). */
  waiting?: LiveWait;
}

/**
 * Live batches held for a subscriber catching up from storage, at most `bytesMax`. Past it they
 * are dropped (`overflowed`): they are stored by then, and the catch-up reads them from storage
 * in another round — so a long catch-up holds bounded memory however fast data arrives.
 */
export class LiveWait {
  batches: Buffer[] = [];
  overflowed = false;
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  hold(records: Buffer): void {
    if (this.overflowed) return;
    this.bytes += records.length;
    if (this.bytes <= this.bytesMax) this.batches.push(records);
    else {
      this.overflowed = true;
      this.batches = [];
    }
  }
}

/** Live records a catch-up holds before it drops them and reads them from storage (~87K records). */
export const CATCH_UP_LIVE_BYTES_MAX = 8 << 20;

/** What the stream needs of the market state: names, JSON events, book views. */
export interface StreamSource {
  symbolOf(id: number): string;
  eventJson(record: Buffer, symbol: string): string;
  bookJson(id: number, depth: number): string | undefined;
}

export class MarketStream {
  private readonly subscribers = new Set<Subscription>();
  /** The seq of the last record published. */
  private publishedSeq = 0n;
  /** `LiveWait`'s limit for the catch-ups that start from now (tests make it small). */
  catchUpLiveBytesMax = CATCH_UP_LIVE_BYTES_MAX;

  constructor(private readonly source: StreamSource) {}

  get lastSeq(): bigint {
    return this.publishedSeq;
  }

  get count(): number {
    return this.subscribers.size;
  }

  add(sub: Subscription): void {
    this.subscribers.add(sub);
  }

  remove(sub: Subscription): void {
    this.subscribers.delete(sub);
  }

  /** Registers `sub` with its live batches held from now on (a catch-up round starts). */
  hold(sub: Subscription): LiveWait {
    sub.waiting = new LiveWait(this.catchUpLiveBytesMax);
    this.subscribers.add(sub);
    return sub.waiting;
  }

  /** One durable batch's kept records (in seq order). */
  publish(records: Buffer): void {
    if (records.length === 0) return;
    this.publishedSeq = records.readBigUInt64LE(records.length - RECORD_BYTES + OFFSET.seq);
    // Each record is turned into JSON once, however many subscribers follow it.
    const json = new Map<number, string>();
    for (const sub of [...this.subscribers]) {
      if (sub.waiting) sub.waiting.hold(records);
      else if (!this.deliver(sub, records, json)) this.subscribers.delete(sub);
    }
  }

  /** Sends `sub` the records it follows and has not covered, then its changed books. */
  deliver(sub: Subscription, records: Buffer, json = new Map<number, string>()): boolean {
    const lines: string[] = [];
    const touched = new Set<number>();
    for (let at = 0; at < records.length; at += RECORD_BYTES) {
      const r = records.subarray(at, at + RECORD_BYTES);
      const id = r.readUInt32LE(OFFSET.instrument);
      if (!sub.instruments.has(id)) continue;
      const seq = r.readBigUInt64LE(OFFSET.seq);
      if (seq <= (sub.covered.get(id) ?? -1n)) continue;
      sub.covered.set(id, seq);
      if (sub.kinds.has(KIND_OF_CODE[r[OFFSET.kind]])) {
        let line = json.get(at);
        if (line === undefined) json.set(at, (line = this.source.eventJson(r, this.source.symbolOf(id))));
        lines.push(line);
      }
      if (r[OFFSET.kind] === 1) touched.add(id);
    }
    if (sub.kinds.has('book')) {
      for (const id of touched) {
        const line = this.bookLine(id, sub.depth);
        if (line) lines.push(line);
      }
    }
    return lines.length === 0 || sub.sink.send(lines);
  }

  /** The book of `id` as a stream line (undefined: the instrument has no book yet). */
  bookLine(id: number, depth: number): string | undefined {
    const view = this.source.bookJson(id, depth);
    return view === undefined ? undefined : `{"kind":"book",${view.slice(1)}`;
  }

  /** Ends every stream (the node is stopping). */
  endAll(reason: string): void {
    for (const sub of this.subscribers) sub.sink.end(reason);
    this.subscribers.clear();
  }
}
