/**
 * The client's market-data reads: a book (now or as of a time or seq), the top of many books in
 * one cut, a fill price (VWAP), stored events page by page, OHLCV bars page by page, and the
 * producers and gaps. Each is
 * one call through the client's routing and retries (`Caller`): linearizable reads go to the
 * leader, `consistency: 'stale'` ones to any member.
 */
import type { ReadOptions } from './client';
import { definedParams } from './params';

export interface BookLevel {
  price: string;
  size: number;
  orders: number;
}

/** `GET /v1/md/books/{instrument}`. Prices are decimal strings; `seq` and `tsEvent` 64-bit decimal strings. */
export interface Book {
  instrument: string;
  seq: string;
  tsEvent: string;
  bids: BookLevel[];
  asks: BookLevel[];
  bestBid: string | null;
  bestAsk: string | null;
  spread: string | null;
  mid: string | null;
  /** A venue gap was seen since the book's last full snapshot: levels may be missing. */
  maybeBad: boolean;
}

/** `top(instruments, { at | seq })`: each book as of a venue time (ns bigint or decimal string, or ISO-8601) or a seq. */
export interface TopOptions extends ReadOptions {
  at?: string | bigint;
  seq?: string | bigint;
}

export interface TopOfBook {
  instrument: string;
  seq: string;
  tsEvent: string;
  bestBid: string | null;
  bidSize: number | null;
  bestAsk: string | null;
  askSize: number | null;
  spread: string | null;
  mid: string | null;
  maybeBad: boolean;
}

export interface Vwap {
  instrument: string;
  side: 'buy' | 'sell';
  qty: number;
  filled: number;
  complete: boolean;
  avgPrice: string | null;
  worstPrice: string | null;
  levels: number;
  seq: string;
}

export interface Feeds {
  producers: { producerId: string; producerSeq: string; firstSeq: string; lastSeq: string }[];
  gaps: { instrument: string; publisher: number; from: string; to: string; seq: string }[];
}

/** A stored event: its ingest shape plus `seq` (64-bit fields as decimal strings). */
/** A stored event (its ingest shape plus `seq`); with `prevailing`, also the top of the book (or the quote) just before it. */
export type StoredEvent = { kind: string; instrument: string; seq: string; tsEvent: string; prevailing?: PrevailingTop } & Record<string, unknown>;

/** The top of an instrument's book just before an event (nulls: no level on that side). */
export interface PrevailingTop {
  bestBid: string | null;
  bidSize: number | null;
  bestAsk: string | null;
  askSize: number | null;
}

/** One bar of `GET /v1/md/bars/{instrument}`: prices as decimal strings, `start` in ns (a decimal string). */
export interface Bar {
  start: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: number;
  buyVolume: number;
  sellVolume: number;
  trades: number;
  /** Σ price × size / volume, truncated to 1e-9; null when every trade had size 0. */
  vwap: string | null;
}

/** One bar of quote mids (`source: 'mid'`): OHLC of (bid + ask) / 2 over two-sided quotes, and their count. */
export interface MidBar {
  start: string;
  open: string;
  high: string;
  low: string;
  close: string;
  quotes: number;
}

export interface BarsOptions extends ReadOptions {
  /** `trades` (the default): OHLCV of trades; `mid`: bars of the quote mid (`MidBar`). */
  source?: 'trades' | 'mid';
  /** Bar length: integer nanoseconds or e.g. "1s", "5m", "1h", "1d". */
  interval: string;
  /** Venue time (ns, or an ISO-8601 time), inclusive; default the first trade. */
  from?: string | bigint;
  /** Exclusive; default past the last trade. */
  to?: string | bigint;
  /** Bars per request (default 10,000, at most 100,000). */
  pageSize?: number;
}

export interface BookOptions extends ReadOptions {
  depth?: number;
  /** As of this venue time (nanoseconds, or an ISO-8601 time), rebuilt from checkpoints. */
  at?: string | bigint;
  /** As of this seq. */
  seq?: string | bigint;
}

/** One call of the client: to the leader or any member, through its retries. */
export type Caller = <T>(to: 'leader' | 'any', request: { method: 'GET' | 'POST'; path: string; body?: string }, opts: ReadOptions) => Promise<T>;

const target = (opts: ReadOptions): 'leader' | 'any' => (opts.consistency === 'stale' ? 'any' : 'leader');
const bookPath = (instrument: string): string => `/v1/md/books/${encodeURIComponent(instrument)}`;

/** The query of a read: the given parameters, and `consistency=stale` when asked. */
function query(params: Record<string, string | bigint | number | undefined>, opts: ReadOptions): string {
  const q = definedParams({ ...params, consistency: opts.consistency === 'stale' ? 'stale' : undefined });
  return q.size === 0 ? '' : `?${q}`;
}

export function book(call: Caller, instrument: string, opts: BookOptions): Promise<Book> {
  return call<Book>(target(opts), { method: 'GET', path: `${bookPath(instrument)}${query({ depth: opts.depth ?? 10, at: opts.at, seq: opts.seq }, opts)}` }, opts);
}

export async function top(call: Caller, instruments: readonly string[], opts: TopOptions): Promise<{ books: TopOfBook[]; missing: string[] }> {
  const path = `/v1/md/books/top${query({ at: opts.at?.toString(), seq: opts.seq?.toString() }, opts)}`;
  return call(target(opts), { method: 'POST', path, body: JSON.stringify({ instruments }) }, opts);
}

export function vwap(call: Caller, instrument: string, side: 'buy' | 'sell', qty: number | bigint, opts: ReadOptions): Promise<Vwap> {
  return call<Vwap>(target(opts), { method: 'GET', path: `${bookPath(instrument)}/vwap${query({ side, qty }, opts)}` }, opts);
}

export function feeds(call: Caller, opts: ReadOptions): Promise<Feeds> {
  return call<Feeds>(target(opts), { method: 'GET', path: `/v1/md/feeds${query({}, opts)}` }, opts);
}

export interface TicksOptions extends ReadOptions {
  afterSeq?: string | bigint;
  pageSize?: number;
  /** Only events at or after this venue time (ns, or an ISO-8601 time). */
  from?: string | bigint;
  /** Only events before this venue time. */
  to?: string | bigint;
  /** Only these kinds. */
  kinds?: readonly ('delta' | 'trade' | 'quote')[];
  /**
   * Each event with the top of the book just before it (kdb+'s `aj`: trades with their prevailing
   * quote): `true` or `'book'` from the L2 book, `'quote'` from the last quote record (TAQ data).
   */
  prevailing?: boolean | 'book' | 'quote';
}

/** Stored events of `instrument` in seq order after `afterSeq` (in `[from, to)`, of `kinds`), a page (`pageSize`, 1000) per call. */
export async function* ticks(call: Caller, instrument: string, opts: TicksOptions): AsyncGenerator<StoredEvent> {
  let after = opts.afterSeq === undefined ? undefined : String(opts.afterSeq);
  const range = { from: opts.from, to: opts.to, kinds: opts.kinds?.join(','), prevailing: opts.prevailing === true ? 'book' : opts.prevailing || undefined };
  for (;;) {
    const path = `/v1/md/ticks/${encodeURIComponent(instrument)}${query({ afterSeq: after, limit: opts.pageSize ?? 1000, ...range }, opts)}`;
    const page = await call<{ events: StoredEvent[]; more: boolean }>(target(opts), { method: 'GET', path }, opts);
    yield* page.events;
    if (!page.more || page.events.length === 0) return;
    after = page.events[page.events.length - 1].seq;
  }
}

/** OHLCV bars of `instrument`'s trades in start order, a page per request (each page's `next` is the next one's `from`). */
export async function* bars(call: Caller, instrument: string, opts: BarsOptions): AsyncGenerator<Bar | MidBar> {
  let from = opts.from === undefined ? undefined : String(opts.from);
  for (;;) {
    const path = `/v1/md/bars/${encodeURIComponent(instrument)}${query({ interval: opts.interval, from, to: opts.to, limit: opts.pageSize, source: opts.source }, opts)}`;
    const page = await call<{ bars: (Bar | MidBar)[]; more: boolean; next: string | null }>(target(opts), { method: 'GET', path }, opts);
    yield* page.bars;
    if (!page.more || page.next === null) return;
    from = page.next;
  }
}

/** One instrument's part of `POST /v1/md/bars`: a page of its bars (`next`: its next page's `from`). */
export interface InstrumentBars<B> {
  instrument: string;
  bars: B[];
  more: boolean;
  next: string | null;
}

/** The same bars of several instruments in one read (`POST /v1/md/bars`): a page each, `pageSize` per instrument. */
export async function barsOfMany(call: Caller, instruments: readonly string[], opts: BarsOptions): Promise<InstrumentBars<Bar | MidBar>[]> {
  const body = JSON.stringify({ instruments, interval: opts.interval, from: opts.from?.toString(), to: opts.to?.toString(), source: opts.source, limit: opts.pageSize });
  const answer = await call<{ instruments: InstrumentBars<Bar | MidBar>[] }>(target(opts), { method: 'POST', path: `/v1/md/bars${query({}, opts)}`, body }, opts);
  return answer.instruments;
}

/** `GET /v1/md/instruments`: an instrument the store holds, with the range of its stored events. */
export interface InstrumentInfo {
  instrument: string;
  /** The first event still stored (null: none). */
  firstSeq: string | null;
  firstTsEvent: string | null;
  /** The last event applied (null: none). */
  lastSeq: string | null;
  lastTsEvent: string | null;
  /** Where its kept history starts after a purge (null: never purged). */
  keptFromSeq: string | null;
  maybeBad: boolean;
}

/** The instruments under `prefix` in name order, a page (`pageSize`, 1000) per request. */
export async function* instruments(call: Caller, opts: ReadOptions & { prefix?: string; pageSize?: number }): AsyncGenerator<InstrumentInfo> {
  let after: string | undefined;
  for (;;) {
    const path = `/v1/md/instruments${query({ prefix: opts.prefix, after, limit: opts.pageSize ?? 1000 }, opts)}`;
    const page = await call<{ instruments: InstrumentInfo[]; more: boolean; next?: string }>(target(opts), { method: 'GET', path }, opts);
    yield* page.instruments;
    if (!page.more || page.next === undefined) return;
    after = page.next;
  }
}
