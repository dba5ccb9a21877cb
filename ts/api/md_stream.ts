/**
 * `GET /v1/md/stream?instruments=A,B&kinds=trade,quote,delta,book&depth=10[&fromSeq=S]`: a live
 * NDJSON stream of market data. Without `fromSeq`: a book snapshot of each instrument first
 * (`{"kind":"book",...}` in the shape of GET /v1/md/books), then every later event (the ingest
 * shape plus `seq`) and, with `book` in `kinds`, the book again after each batch that changed
 * it. With `fromSeq`: the stored events after that seq, then live ones — nothing lost or
 * repeated across the switch. A reader that falls `STREAM_BUFFER_BYTES_MAX` behind gets a last
 * `{"kind":"slow_consumer","seq"}` line and resumes from there. At most `STREAMS_MAX` are open
 * per node (more: 503 `overloaded`; each costs every applied batch a pass).
 */
import { QuorumError, UnavailableError } from '../errors';
import { compactedError, purgeCheck } from '../market/purge';
import { StoredMerge } from '../market/stored_merge';
import type { StreamKind, Subscription } from '../market/stream';
import type { RaftNode } from '../node/raft_node';
import { beginStream, drained, type Res, type Target } from './http';
import { knownInstrumentIds } from './known_instruments';
import { DEPTH_MAX } from './market';
import type { Reply } from './reply';

export const STREAM_BUFFER_BYTES_MAX = 4 << 20;
export const STREAM_INSTRUMENTS_MAX = 1000;
export const STREAMS_MAX = 4096;
const KINDS = new Set<StreamKind>(['delta', 'trade', 'quote', 'book']);

interface StreamRequest {
  ids: number[];
  kinds: Set<StreamKind>;
  depth: number;
  fromSeq: bigint | undefined;
}

/** The instruments' ids (read access checked first). */
async function instrumentIds(node: RaftNode, target: Target): Promise<number[]> {
  const names = (target.query.get('instruments') ?? '').split(',').filter(Boolean);
  if (names.length === 0 || names.length > STREAM_INSTRUMENTS_MAX) throw new QuorumError('invalid_query', `instruments must name 1..${STREAM_INSTRUMENTS_MAX} instruments, comma-separated`);
  for (const n of names) target.guard.check('md', n, 'read');
  return knownInstrumentIds(node, names);
}

/** The request's kinds, depth and start (checked before any instrument is looked up). */
function parseRequest(target: Target): Omit<StreamRequest, 'ids'> {
  const kinds = new Set((target.query.get('kinds') ?? 'delta,trade,quote,book').split(',').filter(Boolean) as StreamKind[]);
  for (const k of kinds) if (!KINDS.has(k)) throw new QuorumError('invalid_query', `kinds are delta, trade, quote and book; got ${k}`);
  const depth = Number(target.query.get('depth') ?? 10);
  if (!Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) throw new QuorumError('invalid_depth', `depth must be an integer in 1..${DEPTH_MAX}`);
  const fromRaw = target.query.get('fromSeq');
  if (fromRaw !== null && !/^\d{1,20}$/.test(fromRaw)) throw new QuorumError('invalid_query', 'fromSeq must be a seq (a decimal integer)');
  return { kinds, depth, fromSeq: fromRaw === null ? undefined : BigInt(fromRaw) };
}

export async function mdStream(node: RaftNode, target: Target, bufferBytesMax = STREAM_BUFFER_BYTES_MAX): Promise<Reply> {
  const parsed = parseRequest(target);
  if (node.market.stream.count >= STREAMS_MAX) throw new UnavailableError(`at most ${STREAMS_MAX} market-data streams per node are open; retry later or use another member`, 'overloaded');
  const req: StreamRequest = { ...parsed, ids: await instrumentIds(node, target) };
  // Stored events after `fromSeq` that a purge dropped cannot be sent: refused, as a watch from a dropped revision.
  for (const id of req.fromSeq === undefined ? [] : req.ids) {
    const kept = node.market.keptFrom(id);
    if (kept && req.fromSeq! < kept.seq) throw compactedError(node.market.symbolOf(id), kept.seq);
  }
  return {
    stream: (res) => {
      serve(node, res, req, bufferBytesMax).catch((err: Error) => {
        // A failure after the headers went out (e.g. reading stored events): end with its line.
        if (!res.writableEnded) res.end(`${JSON.stringify({ kind: 'end', reason: (err as { code?: string }).code ?? 'internal' })}\n`);
      });
    },
  };
}

async function serve(node: RaftNode, res: Res, req: StreamRequest, bufferBytesMax: number): Promise<void> {
  const stream = node.market.stream;
  let lastSeq = '0';
  let ended = false;
  const finish = (line: string) => {
    if (ended) return;
    ended = true;
    stream.remove(sub);
    res.end(`${line}\n`);
  };
  const sub: Subscription = {
    instruments: new Set(req.ids),
    kinds: req.kinds,
    depth: req.depth,
    covered: new Map(),
    sink: {
      send: (lines) => {
        if (ended) return false;
        for (const l of lines) {
          const m = /"seq":"(\d+)"/.exec(l);
          if (m && !l.startsWith('{"kind":"book"')) lastSeq = m[1];
        }
        res.write(`${lines.join('\n')}\n`);
        if (res.writableLength <= bufferBytesMax) return true;
        finish(`{"kind":"slow_consumer","seq":"${lastSeq}"}`);
        return false;
      },
      end: (reason) => finish(`{"kind":"end","reason":${JSON.stringify(reason)},"seq":"${lastSeq}"}`),
    },
  };
  res.on('close', () => {
    ended = true;
    stream.remove(sub);
  });
  beginStream(res, 'application/x-ndjson');
  if (req.fromSeq === undefined) return startLive(node, sub);
  // It waits for its reader past a quarter of the slow-consumer limit: a chunk never reaches it.
  try {
    await catchUp(node, res, sub, req.fromSeq, bufferBytesMax / 4);
  } catch (err) {
    // (Its end line is written by the caller.)
    ended = true;
    stream.remove(sub);
    throw err;
  }
}

/** Book snapshots first; live events after each book's seq follow. */
function startLive(node: RaftNode, sub: Subscription): void {
  const lines: string[] = [];
  for (const id of sub.instruments) {
    const line = node.market.stream.bookLine(id, sub.depth);
    if (line === undefined) continue; // no book yet: every event of it is live
    sub.covered.set(id, BigInt(/"seq":"(\d+)"/.exec(line)![1]));
    lines.push(line);
  }
  if (lines.length === 0 || sub.sink.send(lines)) node.market.stream.add(sub);
}

/**
 * Stored events after `fromSeq`, then live ones, each once in seq order. Live batches published
 * meanwhile wait (`LiveWait`, bounded); if they overflow, the round ends where its read ended and
 * another reads on from storage, where they are by then. The stored part goes a chunk at a time,
 * paced by the reader (waiting for the response to drain), so a catch-up of any length holds
 * bounded memory and is never cut off as a slow consumer.
 */
async function catchUp(node: RaftNode, res: Res, sub: Subscription, fromSeq: bigint, unsentBytesMax: number): Promise<void> {
  const stream = node.market.stream;
  for (const id of sub.instruments) sub.covered.set(id, fromSeq);
  // Stored events only: the books in memory are ahead of them, so no book lines meanwhile.
  const kinds = sub.kinds;
  sub.kinds = new Set([...kinds].filter((k) => k !== 'book'));
  // A purge that overtakes the catch-up: its events cannot all be sent.
  const check = (id: number) => purgeCheck({ symbol: node.market.symbolOf(id), keptSeq: () => node.market.keptFrom(id)?.seq });
  for (let after = fromSeq; ; ) {
    const waiting = stream.hold(sub);
    const upTo = stream.lastSeq;
    const merge = new StoredMerge(node.keys, [...sub.instruments], after, upTo, check);
    for (let chunk = await merge.next(); chunk; chunk = await merge.next()) {
      if (res.destroyed || !stream.deliver(sub, chunk)) return stream.remove(sub);
      if (res.writableLength > unsentBytesMax) await drained(res);
    }
    if (!waiting.overflowed) break;
    after = upTo;
  }
  sub.kinds = kinds;
  const batches = sub.waiting!.batches;
  sub.waiting = undefined;
  for (const batch of batches) if (!stream.deliver(sub, batch)) return stream.remove(sub);
}
