/**
 * The client's long-lived reads: `watch` (KV changes) and `marketStream` (live market data).
 * Each is an async iterator that survives its node: when the stream breaks (the node stops, the
 * connection is lost, it stays silent too long, or the node ends it for a slow consumer) it is
 * opened again on another member from the last position seen — a revision for watches, a seq
 * for market data — so nothing is lost or repeated. Reopening is retried like a call (backoff
 * with jitter, `attempts` in a row); a position the node no longer retains fails the iterator
 * (`compacted`). Breaking out of the loop (or the AbortSignal) closes the stream.
 */
import { StringDecoder } from 'node:string_decoder';
import { answerError, QuorumClientError } from './errors';
import { definedParams } from './params';
import { backoffMs, pause, REROUTE_CODES, RETRYABLE_CODES, type RetryPolicy } from './retry';
import type { Router } from './router';
import type { StreamAnswer, Transport } from './transport';

/** A watch stream's liveness: the node writes a progress line every second. */
const WATCH_IDLE_MS = 5000;
/** Market streams have no heartbeat: a quiet market is not a dead node. */
const MARKET_IDLE_MS = 0;

export interface StreamDeps {
  transport: Transport;
  router: Router;
  policy: RetryPolicy;
}

export type WatchEvent<T = unknown> = { type: 'put'; key: string; value: T; revision: number } | { type: 'delete'; key: string; revision: number };

export interface WatchOptions {
  /** Changes from this revision on (the node must still retain it), else from now. */
  fromRevision?: number;
  /** Only puts, or only deletes (etcd's NODELETE/NOPUT filters); default both. */
  types?: readonly WatchEvent['type'][];
  signal?: AbortSignal;
}

/**
 * The keys a watch follows: a prefix (a string, or `{ prefix }`), one `key`, or `[start, end)`
 * (either bound may be left out), in the UTF-8 byte order a range read has.
 */
export type WatchKeys = string | { key?: string; prefix?: string; start?: string; end?: string };

/** The watch's query: its keys, types and start, without the undefined ones. */
function watchQuery(keys: WatchKeys, opts: WatchOptions, from: number | undefined): URLSearchParams {
  const k = typeof keys === 'string' ? { prefix: keys } : keys;
  return definedParams({ key: k.key, prefix: k.prefix, start: k.start, end: k.end, types: opts.types?.join(','), fromRevision: from });
}

/**
 * JSON with bigints as decimal strings: the server's form of a 64-bit integer (a number past
 * 2^53 is already rounded).
 */
export function jsonWithBigints(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A body's lines, as they arrive (UTF-8 split across chunks is joined; an unterminated tail is dropped). */
export async function* lines(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + decoder.write(chunk);
    let from = 0;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', from)) {
      if (at > from) yield text.slice(from, at);
      from = at + 1;
    }
    rest = text.slice(from);
  }
}

/**
 * The answer's lines as JSON documents, each with its text, until it ends or breaks — a lost connection or a silence
 * ends the iteration quietly (the caller opens the stream again); a line that is not JSON, or
 * `signal` (which cancels the stream), fails it. The stream is cancelled however it stops.
 */
async function* answerDocs<L>(answer: StreamAnswer, signal: AbortSignal | undefined): AsyncGenerator<[L, string]> {
  const onAbort = () => answer.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const text of lines(answer.chunks)) yield [JSON.parse(text) as L, text];
  } catch (err) {
    if (signal?.aborted) throw new QuorumClientError('aborted', 'the call was aborted');
    if (err instanceof SyntaxError) throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    answer.cancel();
  }
}

async function readAll(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * What a stream's last line `{"type"|"kind":"end","reason"}` asks of the client. A position the
 * node no longer holds (`compacted`) fails the iterator, as a 410 at the open does, and so does
 * any other error code that is not retryable; a retryable code, or a sentence (the node stopped,
 * was removed, had its state replaced by a snapshot), means: open again after the last position.
 */
function endedBecause(reason: unknown, what: string): void {
  if (typeof reason !== 'string' || !/^[A-Za-z_]+$/.test(reason) || RETRYABLE_CODES.has(reason)) return;
  throw new QuorumClientError(reason, `the node ended the ${what}: ${reason}`, reason === 'compacted' ? 410 : 0);
}

const NONE: ReadonlySet<string> = new Set();
/** A watch's position may be retained by another member when one answers it compacted. */
const WATCH_ELSEWHERE: ReadonlySet<string> = new Set(['compacted']);

/** Chooses where to open a stream, avoiding the members that just failed it (it may start over). */
type Pick = (avoid: Set<string>) => Promise<string>;

/**
 * Opens `path` on the member `pick` names, retrying what is retryable; a non-2xx answer is thrown.
 * `elsewhere`: codes another member may answer differently (a watch's `compacted`: each node
 * retains its own history, and one that just restarted retains none) — tried on every member
 * before it is thrown.
 */
export async function openStream(deps: StreamDeps, pick: Pick, req: { method: 'GET' | 'POST'; path: string; body?: string; idleMs: number }, signal?: AbortSignal, elsewhere: ReadonlySet<string> = NONE): Promise<StreamAnswer> {
  const avoid = new Set<string>();
  const refusedBy = new Set<string>();
  for (let sends = 1; ; sends++) {
    let origin: string | undefined;
    try {
      origin = await pick(avoid);
      const answer = await deps.transport.openStream(origin, { ...req, timeoutMs: deps.policy.attemptTimeoutMs, signal });
      if (answer.status < 300) return answer;
      throw answerError(answer.status, await readAll(answer.chunks), answer.headers['retry-after']);
    } catch (err) {
      const another = err instanceof QuorumClientError && origin !== undefined && elsewhere.has(err.code) && refusedBy.add(origin).size < deps.router.all().length;
      if (another && sends < deps.policy.attempts) {
        avoid.add(origin!);
        continue;
      }
      if (!(err instanceof QuorumClientError) || err.code === 'aborted' || !RETRYABLE_CODES.has(err.code) || sends >= deps.policy.attempts) throw err;
      if (REROUTE_CODES.has(err.code)) deps.router.forget(origin);
      if (origin !== undefined) avoid.add(origin);
      await pause(Math.max(backoffMs(deps.policy, sends), err.retryAfterMs ?? 0), signal);
    }
  }
}

/**
 * Before opening a broken stream again: nothing if the last one carried data, else a backoff
 * (a node that ends streams at once must not be spun on), failing after `attempts` in a row.
 */
class Reopen {
  private quiet = 0;

  constructor(private readonly policy: RetryPolicy) {}

  async wait(carried: boolean, signal?: AbortSignal): Promise<void> {
    this.quiet = carried ? 0 : this.quiet + 1;
    if (this.quiet === 0) return;
    if (this.quiet >= this.policy.attempts) throw new QuorumClientError('unavailable', `the stream broke ${this.quiet} times in a row before carrying anything`);
    await pause(backoffMs(this.policy, this.quiet), signal);
  }
}

/**
 * One of `candidates` not in `avoid` — the first (an order of preference), or any (spreading
 * streams over the members); all tried: start over. Not the router's shared rotation: a
 * discovery in between moved it by as many members as it asked, and with three members and a
 * dead one asked first, every pick landed on the dead one again (found by the failover test).
 */
function untried(candidates: readonly string[], avoid: Set<string>, which: 'first' | 'any'): string {
  let fresh = candidates.filter((c) => !avoid.has(c));
  if (fresh.length === 0) {
    avoid.clear();
    fresh = [...candidates];
  }
  return which === 'first' ? fresh[0] : fresh[Math.floor(Math.random() * fresh.length)];
}

/**
 * A member to stream from — after a discovery, so a client given one endpoint knows the others
 * when that one fails (a discovery that fails, mid-election, leaves the list as it was).
 */
const anyMember =
  (router: Router): Pick =>
  async (avoid) => {
    await router.leader().catch(() => undefined);
    return untried(router.all(), avoid, 'any');
  };

/** KV changes to `keys`, in revision order, across node failures (see the file comment). */
export async function* watch<T>(deps: StreamDeps, keys: WatchKeys, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
  for await (const [event] of watchLines<T>(deps, keys, opts)) yield event;
}

/**
 * `watch`, each change with the node's own line: its value as stored, numbers past a double
 * exact (the parsed event has them rounded, as any JSON.parse would).
 */
export async function* watchLines<T>(deps: StreamDeps, keys: WatchKeys, opts: WatchOptions = {}): AsyncGenerator<[WatchEvent<T>, string]> {
  let from = opts.fromRevision;
  const reopen = new Reopen(deps.policy);
  for (let carried = true; ; await reopen.wait(carried, opts.signal)) {
    carried = false;
    const answer = await openStream(deps, anyMember(deps.router), { method: 'GET', path: `/v1/watch?${watchQuery(keys, opts, from)}`, idleMs: WATCH_IDLE_MS }, opts.signal, WATCH_ELSEWHERE);
    for await (const [line, text] of answerDocs<{ type: string; key?: string; value?: T; revision: number; reason?: string }>(answer, opts.signal)) {
      carried = true;
      if (line.type === 'put' || line.type === 'delete') {
        from = line.revision + 1;
        yield [line as WatchEvent<T>, text];
      } else if (line.type === 'progress') {
        // Every change up to `revision` was sent: a reopened watch starts after it.
        from = Math.max(from ?? 0, line.revision + 1);
      } else if (line.type === 'slow_consumer' || line.type === 'end') {
        if (line.type === 'end') endedBecause(line.reason, 'watch');
        from = Math.max(from ?? 0, line.revision + 1);
        break;
      }
    }
  }
}

export interface MarketStreamOptions {
  instruments: string[];
  /** Default: delta, trade, quote, book. */
  kinds?: ('delta' | 'trade' | 'quote' | 'book')[];
  depth?: number;
  /** Stored events after this seq first, then live ones. */
  fromSeq?: string | bigint;
  signal?: AbortSignal;
}

/** A market-data line: an event (its ingest shape plus `seq`) or a book (`kind: "book"`). */
export type MarketLine = { kind: string; seq: string } & Record<string, unknown>;

/** `GET /v1/md/stream`, resumed from the last event's seq when it breaks (see the file comment). */
export async function* marketStream(deps: StreamDeps, opts: MarketStreamOptions): AsyncGenerator<MarketLine> {
  let from = opts.fromSeq === undefined ? undefined : String(opts.fromSeq);
  const reopen = new Reopen(deps.policy);
  for (let carried = true; ; await reopen.wait(carried, opts.signal)) {
    carried = false;
    const q = new URLSearchParams({ instruments: opts.instruments.join(','), kinds: (opts.kinds ?? ['delta', 'trade', 'quote', 'book']).join(','), depth: String(opts.depth ?? 10) });
    if (from !== undefined) q.set('fromSeq', from);
    const answer = await openStream(deps, anyMember(deps.router), { method: 'GET', path: `/v1/md/stream?${q}`, idleMs: MARKET_IDLE_MS }, opts.signal);
    for await (const [line] of answerDocs<MarketLine>(answer, opts.signal)) {
      carried = true;
      if (line.kind === 'slow_consumer') {
        from = line.seq;
        break;
      }
      // Resumed from the last seq seen (an end after a failed catch-up names none).
      if (line.kind === 'end') {
        endedBecause(line.reason, 'market stream');
        break;
      }
      // An event moves the resume point to its seq; a book restates its instrument as of its
      // seq (the opening books are one cut of the node's state: no event of these instruments
      // lies between them and the highest of their seqs), so resuming after the highest seq
      // seen loses and repeats nothing.
      if (from === undefined || BigInt(line.seq) > BigInt(from)) from = line.seq;
      yield line;
    }
  }
}

/** `GET /v1/cluster/members`: who leads, and each member's role and client address. */
export interface MembersView {
  leader: number | null;
  members: { id: number; learner?: boolean; client: string | null }[];
}

/**
 * The members' client URLs in the order replays go to them: learners (the replay cluster), then
 * followers, the leader last (backtests stay off it); by id within each.
 */
export function replayOrder(view: MembersView, scheme: string): string[] {
  const rank = (m: MembersView['members'][number]) => (m.learner ? 0 : m.id === view.leader ? 2 : 1);
  return view.members.filter((m) => m.client).sort((a, b) => rank(a) - rank(b) || a.id - b.id).map((m) => `${scheme}//${m.client}`);
}

export interface ReplaySpec {
  instruments: string[];
  kinds?: ('delta' | 'trade' | 'quote' | 'book')[];
  /**
   * `tsEvent` nanoseconds or an ISO-8601 time; `to` is exclusive. Nanoseconds are past 2^53:
   * give them as a bigint or a decimal string (a number is sent as it is, already rounded).
   */
  from?: string | number | bigint;
  to?: string | number | bigint;
  speed?: number | 'max';
  depth?: number;
  /** A snapshot of every book each interval of venue time: `"1s"`, `"250ms"`, or nanoseconds. */
  snapshotEvery?: string | number | bigint;
  /** Resume after this seq (the seq of the last event a broken session delivered). */
  fromSeq?: string | bigint;
}

/**
 * `POST /v1/md/replay` as NDJSON lines, from the replay cluster first (`targets`: learners,
 * followers, the leader last), ending with the `done` line. A session that breaks is opened
 * again after the last event's seq (`fromSeq`), so the events are delivered once each; the
 * final `done` line then counts the last session's part.
 */
export async function* replay(deps: StreamDeps, targets: string[], spec: ReplaySpec, signal?: AbortSignal): AsyncGenerator<MarketLine> {
  let from = spec.fromSeq;
  const reopen = new Reopen(deps.policy);
  for (let carried = true; ; await reopen.wait(carried, signal)) {
    carried = false;
    const body = jsonWithBigints(from === undefined ? spec : { ...spec, fromSeq: from });
    const answer = await openStream(deps, async (avoid) => untried(targets, avoid, 'first'), { method: 'POST', path: '/v1/md/replay', body, idleMs: 0 }, signal);
    for await (const [line] of answerDocs<MarketLine>(answer, signal)) {
      carried = true;
      if (line.kind === 'end') {
        endedBecause(line.reason, 'replay');
        break;
      }
      if (line.kind !== 'book' && line.kind !== 'done') from = line.seq;
      yield line;
      if (line.kind === 'done') return;
    }
  }
}
