/**
 * `QuorumClient` (`quorumkv/client`): leader routing, retries, exactly-once writes and
 * auto-batching over HTTP/2 (or HTTP/1.1).
 *
 *   const client = new QuorumClient({ endpoints: ['http://127.0.0.1:7001'] });
 *   await client.put('book/AAPL', { bid: 101.25 });
 *   const kv = await client.get('book/AAPL');           // { key, value, revision } | undefined
 *
 * Exactly-once: the client opens a session (`POST /v1/sessions`) on its first write and sends
 * every write request (a batch of puts and deletes, a txn) with the idempotency key
 * `<session>:<seq>`, so a retry of a request that already applied gets its first answer
 * instead of applying again. A request refused because the session expired on its first send
 * was never applied: it is sent again under a new session; on a retry the outcome is unknown
 * and its calls fail `session_expired`.
 *
 * Auto-batching: gets of one event-loop turn become one multi-get (per consistency), puts and
 * deletes one `POST /v1/batch` (items independent: one bad item fails only its call).
 */
import { lookup } from '../errors';
import { QuorumClientError } from './errors';
import { Coalescer, type ItemOutcome } from './coalescer';
import { answerItems, type ColumnsAnswer, type PositionalItem } from './multiget_answer';
import { callWithRetries, type CallSpec, RETRY_DEFAULTS, type RetryPolicy } from './retry';
import * as market from './market_reads';
import { definedParams } from './params';
import type { Bar, BarsOptions, MidBar, Book, BookOptions, Feeds, InstrumentBars, InstrumentInfo, StoredEvent, TicksOptions, TopOfBook, TopOptions, Vwap } from './market_reads';
import { Router } from './router';
import { acquireLock, type Lock, type LockOptions } from './lock';
import { jsonWithBigints, type MarketLine, type MembersView, marketStream, type MarketStreamOptions, replay, replayOrder, type ReplaySpec, type StreamDeps, watch, type WatchEvent, type WatchKeys, watchLines, type WatchOptions } from './streams';
import { type ClientTls, Http1Transport, Http2Transport, type Transport, withToken } from './transport';

export interface ClientOptions {
  /** Client URLs of one or more members (the rest are discovered). */
  endpoints: string[];
  /** A call's deadline, retries included (default 10 s). */
  timeoutMs?: number;
  /** `h2` (default): one HTTP/2 session per node; `h1`: HTTP/1.1 keep-alive pools. */
  protocol?: 'h2' | 'h1';
  /** For `https://` endpoints: the nodes' CA, and a client certificate and key if they require one. */
  tls?: ClientTls;
  /** Bearer token for nodes with `--auth on` (401 `unauthenticated` / 403 `permission_denied` are not retried). */
  token?: string;
  retry?: Partial<RetryPolicy>;
  /** Auto-batching bounds per request (defaults: 1000 items, 1 MiB). */
  batchItemsMax?: number;
  batchBytesMax?: number;
}

export interface KeyValue<T = unknown> {
  key: string;
  value: T;
  revision: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ReadOptions extends CallOptions {
  /** `linearizable` (default: through the leader's ReadIndex) or `stale` (any member's state). */
  consistency?: 'linearizable' | 'stale';
}

export interface WriteOptions extends CallOptions {
  /** Apply only if the key is at this revision (0: only if absent); else `revision_mismatch`. */
  ifRevision?: number;
}

export interface PutOptions extends WriteOptions {
  /** The key is deleted this long after the write (unless written again first). */
  ttlMs?: number;
}

export interface IncrOptions extends CallOptions {
  /** A TTL for the key if this increment creates it (an existing key keeps its own). */
  ttlMs?: number;
}

export type TxnOp = { op: 'put'; key: string; value: unknown } | { op: 'delete'; key: string } | { op: 'get'; key: string } | { op: 'incr'; key: string; by?: number };
export interface TxnSpec {
  /** Each holds for the key as the txn applies; `cmp` (default `=`) relates its revision or value: `!=`, or `<` `<=` `>` `>=` (values as numbers). */
  compare?: { key: string; revision?: number; value?: unknown; exists?: boolean; cmp?: '=' | '!=' | '<' | '<=' | '>' | '>=' }[];
  success?: TxnOp[];
  failure?: TxnOp[];
}
export interface TxnResult {
  succeeded: boolean;
  revision: number;
  results: Record<string, unknown>[];
}

interface WriteItem {
  op: 'put' | 'delete' | 'incr' | 'expire' | 'persist';
  key: string;
  value?: unknown;
  by?: number;
  ifRevision?: number;
  ttlMs?: number;
}
export interface IngestAnswer {
  firstSeq: string | null;
  lastSeq: string | null;
  applied: number;
  duplicates: number;
  gaps: Record<string, unknown>[];
}
type WriteAnswer = { revision: number; deleted?: boolean; expiresAtMs?: number | null; value?: number };
type BatchAnswer = { results: ({ revision: number; deleted?: boolean } | { error: { code: string; message: string } & Record<string, unknown> })[] };

type MultiGetAnswer = ColumnsAnswer | { items: (KeyValue | PositionalItem | null)[] };

const KEY_BYTES_MAX = 4096;

/** The server's key rules, checked here so one bad key fails only its own call. */
function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new QuorumClientError('invalid_key', 'the key must be a non-empty string');
  if (Buffer.byteLength(key) > KEY_BYTES_MAX) throw new QuorumClientError('key_too_large', `keys are at most ${KEY_BYTES_MAX} bytes`);
  if (key.startsWith('\u0000')) throw new QuorumClientError('invalid_key', 'keys starting with NUL are reserved');
  return key;
}

/**
 * The batch promise `add` returns, or its synchronous throw (a bad key) as a rejection. Calls
 * are not async functions: the batch's promise is the answer — one promise and turn less each.
 */
function queued<T>(add: () => Promise<T>): Promise<T> {
  try {
    return add();
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

const json = (text: Buffer) => JSON.parse(text.toString('utf8')) as unknown;

export class QuorumClient {
  private readonly transport: Transport;
  private readonly router: Router;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly reads: Record<'linearizable' | 'stale', Coalescer<string, KeyValue | undefined>>;
  private readonly writes: Coalescer<WriteItem, WriteAnswer>;
  private session: Promise<string> | undefined;
  /** The open session's name, once known (so an expired one is dropped at once). */
  private sessionName: string | undefined;
  private seq = 0;
  /** Multi-gets ask for `layout=columns` (until a member refuses it). */
  private columns = true;

  constructor(opts: ClientOptions) {
    const transport = opts.protocol === 'h1' ? new Http1Transport(opts.tls) : new Http2Transport(opts.tls);
    this.transport = opts.token ? withToken(transport, opts.token) : transport;
    this.policy = { ...RETRY_DEFAULTS, ...opts.retry };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.router = new Router(this.transport, opts.endpoints, this.policy.attemptTimeoutMs);
    const items = opts.batchItemsMax ?? 1000;
    const bytes = opts.batchBytesMax ?? 1 << 20;
    this.reads = {
      linearizable: new Coalescer((keys) => this.sendGets(keys, 'linearizable'), items, bytes),
      stale: new Coalescer((keys) => this.sendGets(keys, 'stale'), items, bytes),
    };
    // Writes of one key go in separate batches: a batch is one entry, one revision (duplicate_key).
    this.writes = new Coalescer((batch) => this.sendWrites(batch), items, bytes, (w) => w.key);
  }

  /** The key's value and revision, or undefined if it does not exist. */
  get<T = unknown>(key: string, opts: ReadOptions = {}): Promise<KeyValue<T> | undefined> {
    return queued(() => this.reads[opts.consistency ?? 'linearizable'].add(checkKey(key), key.length + 8, opts.signal) as Promise<KeyValue<T> | undefined>);
  }

  /** The key with the time its TTL ends (`expiresAtMs`, ms since the epoch; null: it has none), or undefined if absent. */
  async getWithTtl<T = unknown>(key: string, opts: ReadOptions = {}): Promise<(KeyValue<T> & { expiresAtMs: number | null }) | undefined> {
    const stale = opts.consistency === 'stale';
    const path = `/v1/kv/${encodeURIComponent(checkKey(key))}?ttl=true${stale ? '&consistency=stale' : ''}`;
    try {
      return await this.call<KeyValue<T> & { expiresAtMs: number | null }>(stale ? 'any' : 'leader', { method: 'GET', path }, opts);
    } catch (err) {
      if (err instanceof QuorumClientError && err.code === 'not_found') return undefined;
      throw err;
    }
  }

  /** The values of `keys` that exist, by key (one request). */
  async multiGet(keys: string[], opts: ReadOptions = {}): Promise<Map<string, KeyValue>> {
    const found = await this.getMany(keys.map(checkKey), opts.consistency ?? 'linearizable', opts);
    return new Map(found.flatMap((kv) => (kv ? [[kv.key, kv] as const] : [])));
  }

  put(key: string, value: unknown, opts: PutOptions = {}): Promise<{ revision: number; expiresAtMs?: number }> {
    return queued(() => this.writes.add({ op: 'put', key: checkKey(key), value, ifRevision: opts.ifRevision, ttlMs: opts.ttlMs }, key.length + JSON.stringify(value ?? null).length + 64, opts.signal) as Promise<{ revision: number; expiresAtMs?: number }>);
  }

  delete(key: string, opts: WriteOptions = {}): Promise<{ deleted: boolean; revision: number }> {
    return queued(() => this.writes.add({ op: 'delete', key: checkKey(key), ifRevision: opts.ifRevision }, key.length + 64, opts.signal) as Promise<{ deleted: boolean; revision: number }>);
  }

  /**
   * Adds `by` (default 1, may be negative) to the integer at `key` (absent: 0), in the state
   * machine: concurrent increments all count, and a retry counts once. Resolves with the new
   * value; `not_a_counter` if the key holds anything else, `counter_overflow` past ±(2^53 − 1).
   */
  incr(key: string, by = 1, opts: IncrOptions = {}): Promise<{ value: number; revision: number; expiresAtMs?: number }> {
    if (!Number.isSafeInteger(by)) return Promise.reject(new QuorumClientError('invalid_body', 'by must be an integer within ±(2^53 - 1)', 400));
    return queued(() => this.writes.add({ op: 'incr', key: checkKey(key), by, ttlMs: opts.ttlMs }, key.length + 64, opts.signal) as Promise<{ value: number; revision: number; expiresAtMs?: number }>);
  }

  /**
   * Sets the TTL of an existing key without writing it (Redis EXPIRE; a heartbeat): it is
   * deleted `ttlMs` from now unless written or given another TTL first. `not_found` if absent.
   */
  expire(key: string, ttlMs: number, opts: CallOptions = {}): Promise<{ revision: number; expiresAtMs: number }> {
    return queued(() => this.writes.add({ op: 'expire', key: checkKey(key), ttlMs }, key.length + 64, opts.signal) as Promise<{ revision: number; expiresAtMs: number }>);
  }

  /** Ends the TTL of an existing key (Redis PERSIST); `not_found` if absent. */
  persist(key: string, opts: CallOptions = {}): Promise<{ revision: number; expiresAtMs: null }> {
    return queued(() => this.writes.add({ op: 'persist', key: checkKey(key) }, key.length + 64, opts.signal) as Promise<{ revision: number; expiresAtMs: null }>);
  }

  /**
   * Takes the lock on `key` (waiting while another holds it): a key with a TTL this client
   * renews until `release()`; `lost` aborts if it is lost; `fencingToken` orders holders.
   */
  lock(key: string, opts: LockOptions = {}): Promise<Lock> {
    return acquireLock(this, checkKey(key), opts);
  }

  /** Compare, then one branch, atomically; exactly once (it carries an idempotency key). */
  async txn(spec: TxnSpec, opts: CallOptions = {}): Promise<TxnResult> {
    return this.exactlyOnce((key) => ({ to: 'leader', request: { method: 'POST', path: '/v1/txn', body: JSON.stringify(spec), headers: { 'idempotency-key': key } }, read: (a) => json(a.body) as TxnResult, deadlineMs: opts.timeoutMs ?? this.timeoutMs, signal: opts.signal }));
  }

  /**
   * Deletes every key starting with `prefix` (an empty prefix: every key), in parts of 1,000
   * keys (the server's default), each atomic and exactly once; `deleted` counts them all, `revision` is the last
   * part's. Keys written under the prefix meanwhile may be deleted too (as etcd's range delete
   * deletes what is there when it applies).
   */
  async deletePrefix(prefix: string, opts: CallOptions = {}): Promise<{ deleted: number; revision: number }> {
    let deleted = 0;
    for (;;) {
      const path = `/v1/kv?${new URLSearchParams({ prefix })}`;
      const part = await this.exactlyOnce((key) => ({ to: 'leader', request: { method: 'DELETE', path, headers: { 'idempotency-key': key } }, read: (a) => json(a.body) as { deleted: number; more: boolean; revision: number }, deadlineMs: opts.timeoutMs ?? this.timeoutMs, signal: opts.signal }));
      deleted += part.deleted;
      if (!part.more) return { deleted, revision: part.revision };
    }
  }

  /**
   * Every key of a range — under `prefix`, or in `[start, end)` — in key order (descending with
   * `reverse`), a page at a time.
   */
  async *scan(opts: ReadOptions & KeyRange & { reverse?: boolean; pageSize?: number } = {}): AsyncGenerator<KeyValue> {
    yield* this.rangePages<KeyValue>(opts, { limit: String(opts.pageSize ?? 100), reverse: opts.reverse ? 'true' : undefined });
  }

  /** The keys of a range and their revisions, without values (`keysOnly`), in key order (descending with `reverse`). */
  async *keys(opts: ReadOptions & KeyRange & { reverse?: boolean; pageSize?: number } = {}): AsyncGenerator<{ key: string; revision: number }> {
    yield* this.rangePages<{ key: string; revision: number }>(opts, { limit: String(opts.pageSize ?? 1000), reverse: opts.reverse ? 'true' : undefined, keysOnly: 'true' });
  }

  /** The items of every page of a range read (`GET /v1/kv` with `extra`), following each page's `next`. */
  private async *rangePages<T extends { key: string }>(opts: ReadOptions & KeyRange, extra: Record<string, string | undefined>): AsyncGenerator<T> {
    let after: string | undefined;
    for (;;) {
      const page = await this.call<{ items: T[]; more: boolean; next?: string }>(opts.consistency === 'stale' ? 'any' : 'leader', { method: 'GET', path: `/v1/kv?${rangeParams(opts, { ...extra, after })}` }, opts);
      yield* page.items;
      // `next`: where the node stopped (a token that sees part of the prefix may get short pages).
      after = page.next ?? page.items[page.items.length - 1]?.key;
      if (!page.more || after === undefined) return;
    }
  }

  /** How many keys a range holds (under `prefix`, or in `[start, end)`; counted in parts by the node). */
  async count(opts: ReadOptions & KeyRange = {}): Promise<number> {
    let total = 0;
    let after: string | undefined;
    for (;;) {
      const q = rangeParams(opts, { count: 'true', after });
      const part = await this.call<{ count: number; more: boolean; next?: string }>(opts.consistency === 'stale' ? 'any' : 'leader', { method: 'GET', path: `/v1/kv?${q}` }, opts);
      total += part.count;
      if (!part.more || part.next === undefined) return total;
      after = part.next;
    }
  }

  /**
   * KV changes to `keys` (a prefix, `{ key }`, or `{ start, end }`; default: every key) as they
   * apply, from `fromRevision` (else from now): an async iterator that reopens on another member
   * after the last revision seen when its node fails.
   */
  watch<T = unknown>(keys: WatchKeys = '', opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    return watch<T>(this.streamDeps(), keys, opts);
  }

  /**
   * `watch`, each event with the node's JSON line: the value's text as stored, so a number past
   * 2^53 (a nanosecond timestamp) can be read exactly by a parser that keeps big integers.
   */
  watchLines<T = unknown>(keys: WatchKeys = '', opts: WatchOptions = {}): AsyncGenerator<[WatchEvent<T>, string]> {
    return watchLines<T>(this.streamDeps(), keys, opts);
  }

  /** Market data as it is ingested (a book per instrument first), resumed by seq across node failures. */
  marketStream(opts: MarketStreamOptions): AsyncGenerator<MarketLine> {
    return marketStream(this.streamDeps(), opts);
  }

  /**
   * A replay session's lines (events, books, the final `done`), from a replay learner first and
   * the leader last; a broken session resumes after its last event.
   */
  async *replay(spec: ReplaySpec, opts: CallOptions = {}): AsyncGenerator<MarketLine> {
    yield* replay(this.streamDeps(), await this.replayTargets(opts), spec, opts.signal);
  }

  /**
   * Market-data events (the NDJSON ingest shape; 64-bit fields as strings, numbers or bigints),
   * one batch, acknowledged once applied. Retries are safe: a producer's events at or below its
   * highest applied `producerSeq` are counted as duplicates, never applied twice.
   */
  ingest(events: readonly Record<string, unknown>[], opts: CallOptions = {}): Promise<IngestAnswer> {
    const body = events.map(jsonWithBigints).join('\n');
    return this.call<IngestAnswer>('leader', { method: 'POST', path: '/v1/md/events', body, headers: { 'content-type': 'application/x-ndjson' } }, opts);
  }

  /**
   * Drops stored market data before venue time `before` (`DELETE /v1/md/history`, admin): each
   * instrument's history then starts at its newest checkpoint before it. Retries are safe: a
   * repeat cuts nothing more. Resolves with the instruments cut and where each one's history starts.
   */
  purgeHistory(before: string | bigint, opts: CallOptions = {}): Promise<{ instruments: { instrument: string; fromSeq: string; fromTs: string }[] }> {
    return this.call('leader', { method: 'DELETE', path: `/v1/md/history?${new URLSearchParams({ before: String(before) })}` }, opts);
  }

  /** An instrument's book (`GET /v1/md/books/{instrument}`): now, or as of `at` or `seq`; linearizable unless `stale`. */
  book(instrument: string, opts: BookOptions = {}): Promise<Book> {
    return market.book(this.caller, instrument, opts);
  }

  /** The top of each named book, all from one applied state, or each as of `at`/`seq` (`POST /v1/md/books/top`). */
  top(instruments: readonly string[], opts: TopOptions = {}): Promise<{ books: TopOfBook[]; missing: string[] }> {
    return market.top(this.caller, instruments, opts);
  }

  /** The average price to fill `qty` against the book (a buy walks the asks, a sell the bids). */
  vwap(instrument: string, side: 'buy' | 'sell', qty: number | bigint, opts: ReadOptions = {}): Promise<Vwap> {
    return market.vwap(this.caller, instrument, side, qty, opts);
  }

  /** Stored events of `instrument` in seq order, after `afterSeq` (in `[from, to)`, of `kinds`): an async iterator over pages. */
  ticks(instrument: string, opts: TicksOptions = {}): AsyncGenerator<StoredEvent> {
    return market.ticks(this.caller, instrument, opts);
  }

  /** OHLCV bars of `instrument`'s trades (`GET /v1/md/bars/{instrument}`), in start order: an async iterator over pages. */
  bars(instrument: string, opts: BarsOptions & { source: 'mid' }): AsyncGenerator<MidBar>;
  bars(instrument: string, opts: BarsOptions): AsyncGenerator<Bar>;
  bars(instrument: string, opts: BarsOptions): AsyncGenerator<Bar | MidBar> {
    return market.bars(this.caller, instrument, opts);
  }

  /** The same bars of several instruments (at most 100) in one read, a page each (`POST /v1/md/bars`; `pageSize` bars per instrument). */
  barsOfMany(instruments: readonly string[], opts: BarsOptions): Promise<InstrumentBars<Bar | MidBar>[]> {
    return market.barsOfMany(this.caller, instruments, opts);
  }

  /** The instruments under `prefix` in name order, each with the range of its stored events: an async iterator over pages. */
  instruments(opts: ReadOptions & { prefix?: string; pageSize?: number } = {}): AsyncGenerator<InstrumentInfo> {
    return market.instruments(this.caller, opts);
  }

  /** Producers (their last `producerSeq` and seq range) and the venue gaps remembered. */
  feeds(opts: ReadOptions = {}): Promise<Feeds> {
    return market.feeds(this.caller, opts);
  }

  /** The cluster as a member sees it (`GET /v1/cluster`). */
  cluster(opts: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.call('any', { method: 'GET', path: '/v1/cluster' }, opts);
  }

  members(opts: CallOptions = {}): Promise<{ members: Record<string, unknown>[] }> {
    return this.call('leader', { method: 'GET', path: '/v1/cluster/members' }, opts);
  }

  close(): void {
    this.transport.close();
  }

  private streamDeps(): StreamDeps {
    return { transport: this.transport, router: this.router, policy: this.policy };
  }

  /** Replay goes to learners first, then followers, the leader last (backtests stay off it). */
  private async replayTargets(opts: CallOptions): Promise<string[]> {
    const view = await this.call<MembersView>('any', { method: 'GET', path: '/v1/cluster/members?consistency=stale' }, opts);
    const urls = replayOrder(view, new URL(this.router.any()).protocol);
    return urls.length > 0 ? urls : [await this.router.leader()];
  }

  private readonly caller: market.Caller = (to, request, opts) => this.call(to, request, opts);

  private async call<T>(to: 'leader' | 'any', request: CallSpec<T>['request'], opts: CallOptions): Promise<T> {
    const sent = await callWithRetries(this.transport, this.router, this.policy, { to, request, read: (a) => json(a.body) as T, deadlineMs: opts.timeoutMs ?? this.timeoutMs, signal: opts.signal });
    return sent.value;
  }

  /**
   * One multi-get, answered as columns (about half the parse of an object per key); positional
   * from then on once a member refuses that layout (`invalid_layout`: an older version).
   */
  private async getMany(keys: string[], consistency: 'linearizable' | 'stale', opts: CallOptions = {}): Promise<(KeyValue | undefined)[]> {
    const to = consistency === 'stale' ? 'any' : 'leader';
    const query = consistency === 'stale' ? '&consistency=stale' : '';
    const body = JSON.stringify({ keys });
    if (this.columns) {
      try {
        return answerItems(keys, await this.call<MultiGetAnswer>(to, { method: 'POST', path: `/v1/multiget?layout=columns${query}`, body }, opts));
      } catch (err) {
        if (!(err instanceof QuorumClientError && err.code === 'invalid_layout')) throw err;
        this.columns = false;
      }
    }
    return answerItems(keys, await this.call<MultiGetAnswer>(to, { method: 'POST', path: `/v1/multiget?layout=positional${query}`, body }, opts));
  }

  /**
   * A turn's gets as one multi-get. A node refuses a multi-get whole when the token may not read
   * one of its keys, naming that key (`details.prefix`): the calls for that key fail alone and
   * the others go again. Each round settles at least one key, so a turn with k forbidden keys
   * takes k + 1 requests; any other failure fails the calls still waiting.
   */
  private async sendGets(keys: string[], consistency: 'linearizable' | 'stale'): Promise<ItemOutcome<KeyValue | undefined>[]> {
    const out: ItemOutcome<KeyValue | undefined>[] = new Array(keys.length);
    let waiting = keys.map((_, i) => i);
    while (waiting.length > 0) {
      try {
        const values = await this.getMany(waiting.map((i) => keys[i]), consistency);
        waiting.forEach((i, j) => (out[i] = { ok: values[j] }));
        return out;
      } catch (err) {
        const denied = err instanceof QuorumClientError && err.code === 'permission_denied' ? err.details.prefix : undefined;
        // Not a key of this turn (or another failure): every call still waiting fails with it.
        const all = !waiting.some((i) => keys[i] === denied);
        for (const i of waiting) if (all || keys[i] === denied) out[i] = { err: err as Error };
        waiting = all ? [] : waiting.filter((i) => keys[i] !== denied);
      }
    }
    return out;
  }

  /** This client's session (opened on first use, and again after one expired). */
  private sessionId(): Promise<string> {
    this.session ??= this.call<{ session: string }>('leader', { method: 'POST', path: '/v1/sessions' }, {}).then(
      (r) => (this.sessionName = r.session),
      (err: Error) => {
        this.session = undefined;
        throw err;
      },
    );
    return this.session;
  }

  /** Runs a call under a fresh idempotency key; a first send refused for an expired session is re-keyed once. */
  private async exactlyOnce<T>(spec: (key: string) => CallSpec<T>): Promise<T> {
    for (let rekeyed = 0; ; rekeyed++) {
      const session = await this.sessionId();
      try {
        return (await callWithRetries(this.transport, this.router, this.policy, spec(`${session}:${++this.seq}`))).value;
      } catch (err) {
        const fresh = err instanceof QuorumClientError && err.code === 'session_expired' && err.sends === 1 && rekeyed === 0;
        if (!fresh) throw err;
        this.dropSession(session);
      }
    }
  }

  private dropSession(session: string): void {
    if (this.sessionName !== session) return;
    this.session = undefined;
    this.sessionName = undefined;
  }

  /**
   * One batch request under one idempotency key (the server keeps one answer per batch, not one
   * per write); a retry resends the same body, so a batch that applied is answered again, never
   * applied twice. Outcomes are made synchronously: no promise per item.
   */
  private async sendWrites(batch: WriteItem[]): Promise<ItemOutcome<WriteAnswer>[]> {
    const body = JSON.stringify({ ops: batch });
    const answer = await this.exactlyOnce<BatchAnswer>((key) => ({ to: 'leader', request: { method: 'POST', path: '/v1/batch', body, headers: { 'idempotency-key': key } }, read: (a) => json(a.body) as BatchAnswer, deadlineMs: this.timeoutMs }));
    return answer.results.map((r): ItemOutcome<WriteAnswer> => {
      if (!('error' in r)) return { ok: r };
      const { code, message, ...details } = r.error;
      return { err: new QuorumClientError(code, message, lookup(code).status, details) };
    });
  }
}

/** A key range: the keys under `prefix`, or in `[start, end)` (either bound may be left out). */
export interface KeyRange {
  prefix?: string;
  start?: string;
  end?: string;
}

/** The query of a range read: its bounds, consistency and `extra`, without the undefined ones. */
function rangeParams(range: KeyRange & ReadOptions, extra: Record<string, string | undefined>): URLSearchParams {
  return definedParams({ prefix: range.prefix, start: range.start, end: range.end, consistency: range.consistency === 'stale' ? 'stale' : undefined, ...extra });
}
