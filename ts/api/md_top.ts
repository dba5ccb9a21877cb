/**
 * `POST /v1/md/books/top[?at=T|?seq=S] {"instruments":[...]}`: the top of every named book.
 * Now: one consistent cut (all read from the same applied state, after one ReadIndex round).
 * With `at` (venue time, integer ns or ISO-8601) or `seq`: each book as of then, rebuilt from its
 * checkpoints (as `GET /v1/md/books/{instrument}?at=T`) — a universe's tops at one instant for a
 * backtest (kdb+'s `aj`), where one request per instrument cost a round trip each. In the query,
 * as for one book, so admission classes it bulk before the body is read (route_classes.ts).
 *
 * An instrument without events (by then) is listed in `missing`; one whose history before then
 * was purged fails the read 410 `compacted`, as its single book read does. Limits:
 * `TOP_INSTRUMENTS_MAX` instruments; `PAST_BOOKS_IN_FLIGHT` rebuilt at a time.
 */
import { QuorumError } from '../errors';
import type { BookTarget } from '../market/history';
import type { RaftNode } from '../node/raft_node';
import { onlyFields, parseObject } from './args';
import type { Target } from './http';
import { barrier } from './kv';
import { historyTarget, pastBook } from './market';
import type { Reply } from './reply';

export const TOP_INSTRUMENTS_MAX = 1000;
/** Books rebuilt concurrently for an as-of read (each a checkpoint search and a roll forward on the pool). */
const PAST_BOOKS_IN_FLIGHT = 8;

interface BookView {
  seq: string;
  tsEvent: string;
  bids: { size: number }[];
  asks: { size: number }[];
  bestBid: string | null;
  bestAsk: string | null;
  spread: string | null;
  mid: string | null;
  maybeBad: boolean;
}

export async function top(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const doc = parseObject(body, '{"instruments": ["AAPL", ...]}');
  onlyFields(doc, new Set(['instruments']), 'the body');
  const instruments = doc.instruments;
  if (!Array.isArray(instruments) || instruments.length === 0 || !instruments.every((i) => typeof i === 'string')) throw new QuorumError('invalid_body', 'the body must be {"instruments": ["AAPL", ...]}');
  if (instruments.length > TOP_INSTRUMENTS_MAX) throw new QuorumError('invalid_body', `at most ${TOP_INSTRUMENTS_MAX} instruments`);
  const then = historyTarget(target.query);
  for (const instrument of instruments as string[]) target.guard.check('md', instrument, 'read');
  await barrier(node, target.query);
  const views = then === undefined ? (instruments as string[]).map((i) => node.market.bookView(i, 1)) : await pastViews(node, instruments as string[], then);
  const books: unknown[] = [];
  const missing: string[] = [];
  for (const [n, instrument] of (instruments as string[]).entries()) {
    const view = views[n];
    if (view === undefined) {
      missing.push(instrument);
      continue;
    }
    const b = JSON.parse(view) as BookView;
    books.push({ instrument, seq: b.seq, tsEvent: b.tsEvent, bestBid: b.bestBid, bidSize: b.bids[0]?.size ?? null, bestAsk: b.bestAsk, askSize: b.asks[0]?.size ?? null, spread: b.spread, mid: b.mid, maybeBad: b.maybeBad });
  }
  return { body: { books, missing } };
}

/** Each instrument's book as of `then` (depth 1), `PAST_BOOKS_IN_FLIGHT` at a time. */
async function pastViews(node: RaftNode, instruments: string[], then: BookTarget): Promise<(string | undefined)[]> {
  const views: (string | undefined)[] = new Array(instruments.length);
  let next = 0;
  const worker = async () => {
    for (let n = next++; n < instruments.length; n = next++) {
      const id = node.market.idOf(instruments[n]);
      views[n] = id === undefined ? undefined : await pastBook(node, instruments[n], id, then, 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PAST_BOOKS_IN_FLIGHT, instruments.length) }, worker));
  return views;
}
