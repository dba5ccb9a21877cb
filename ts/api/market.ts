/**
 * The market-data routes:
 *
 *   POST /v1/md/events                 NDJSON event lines, or binary records (application/octet-stream,
 *                                      see `encodeBatch`) → {"firstSeq","lastSeq","applied","duplicates","gaps"}
 *   GET  /v1/md/books/{instrument}     ?depth=10 (1..DEPTH_MAX) [&at=T | &seq=S] &consistency=stale → the book
 *                                      (now, or as of venue time T / seq S, from the nearest checkpoint)
 *   POST /v1/md/books/top              [?at=T | ?seq=S] {"instruments":[...]} → every top of book, now in
 *                                      one consistent cut, or each as of then (md_top.ts)
 *   GET  /v1/md/books/{instrument}/vwap ?side=buy|sell&qty=N → the average price to fill N
 *   GET  /v1/md/feeds                  producers with their high-water marks, and detected gaps
 *   GET  /v1/md/ticks/{instrument}     ?afterSeq=&limit= (≤ TICKS_LIMIT_MAX) [&from=T&to=T] [&kinds=trade,…]
 *                                      [&prevailing=book|quote: each with the top of book, or the quote, before it] → {"events":[...],"more"}
 *
 * A batch is one Raft proposal, acknowledged once committed by a majority and applied; a
 * malformed line fails the whole batch (400 with its line), nothing of it applied. Reads are
 * linearizable (ReadIndex) unless `?consistency=stale`.
 */
import { QuorumError } from '../errors';
import { type IngestBatch, parseBinary, parseNdjson } from '../market/batch';
import { formatPrice, KIND_CODES, type Kind, parsePrice } from '../market/records';
import { ticksPage } from '../market/ticks';
import { type BookTarget, bookAt } from '../market/history';
import { LEVELS_PER_SIDE_MAX } from '../market/state';
import { Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { mediaType, type Target } from './http';
import { barrier, unexpected } from './kv';
import type { Reply } from './reply';
import { parseVenueTime } from './venue_time';

export const DEPTH_MAX = 1000;
export const TICKS_LIMIT_MAX = 10_000;
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/jsonl', 'application/json-seq']);

export async function ingest(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const type = mediaType(target.contentType) ?? 'application/x-ndjson';
  const tsRecv = BigInt(Date.now()) * 1_000_000n;
  let batch: IngestBatch;
  if (type === 'application/octet-stream') batch = parseBinary(body, tsRecv);
  else if (NDJSON_TYPES.has(type)) batch = parseNdjson(body, tsRecv);
  else throw new QuorumError('unsupported_media_type', `send events as application/x-ndjson or application/octet-stream (binary records), not ${type}`);
  for (const symbol of batch.symbols) target.guard.check('md', symbol, 'readwrite');
  const result = await node.propose({ op: Op.MdIngest, key: '', md: batch });
  if (result.kind === 'md_refused') throw new QuorumError(result.code, result.message);
  if (result.kind !== 'md') throw unexpected(result.kind);
  const { kind: _kind, ...answer } = result;
  return { body: answer };
}

/** `?at=T` or `?seq=S`: the book as of then, rebuilt from checkpoints (undefined: now). */
export function historyTarget(query: URLSearchParams): BookTarget | undefined {
  const at = query.get('at');
  const seq = query.get('seq');
  if (at !== null && seq !== null) throw new QuorumError('invalid_query', 'give at or seq, not both');
  if (seq !== null) {
    if (!/^\d{1,20}$/.test(seq)) throw new QuorumError('invalid_query', 'seq must be a decimal integer');
    return { seq: BigInt(seq) };
  }
  return at === null ? undefined : { tsEvent: parseVenueTime(at, 'at') };
}

export async function book(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  target.guard.check('md', instrument, 'read');
  const depthRaw = target.query.get('depth');
  const depth = depthRaw === null ? 10 : Number(depthRaw);
  if (!Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) throw new QuorumError('invalid_depth', `depth must be an integer in 1..${DEPTH_MAX}`);
  const then = historyTarget(target.query);
  await barrier(node, target.query);
  const id = node.market.idOf(instrument);
  if (then && id !== undefined) {
    const past = await pastBook(node, instrument, id, then, depth);
    if (past === undefined) throw new QuorumError('unknown_instrument', `${instrument} had no events by then`);
    return { raw: past };
  }
  const view = node.market.bookView(instrument, depth);
  if (view === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  return { raw: view };
}

/**
 * `instrument`'s book as of `then` as JSON (undefined: it had no events by then); 410 `compacted`
 * when its history before then was purged (before the read, or while it ran).
 */
export async function pastBook(node: RaftNode, instrument: string, id: number, then: BookTarget, depth: number): Promise<string | undefined> {
  const kept = node.market.keptFrom(id);
  if (kept && ('seq' in then ? then.seq < kept.seq : then.tsEvent < kept.tsEvent)) {
    throw new QuorumError('compacted', `${instrument}'s history before seq ${kept.seq} (venue time ${kept.tsEvent}) was purged`, { details: { fromSeq: kept.seq.toString(), fromTs: kept.tsEvent.toString() } });
  }
  return bookAt(node.keys, id, instrument, then, depth, () => node.market.keptFrom(id)?.seq);
}

export async function feeds(node: RaftNode, target: Target): Promise<Reply> {
  // Producers and gaps span instruments: any market-data read grant sees them.
  target.guard.visible('md', '');
  await barrier(node, target.query);
  return { body: node.market.feeds() };
}

export async function ticks(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  target.guard.check('md', instrument, 'read');
  const query = target.query;
  const limitRaw = query.get('limit');
  const limit = limitRaw === null ? 1000 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > TICKS_LIMIT_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${TICKS_LIMIT_MAX}`);
  const afterRaw = query.get('afterSeq') ?? '0';
  if (!/^\d{1,20}$/.test(afterRaw)) throw new QuorumError('invalid_query', 'afterSeq must be a seq (a decimal integer)');
  const fromRaw = query.get('from');
  const toRaw = query.get('to');
  const fromTs = fromRaw === null ? 0n : parseVenueTime(fromRaw, 'from');
  const toTs = toRaw === null ? undefined : parseVenueTime(toRaw, 'to');
  if (toTs !== undefined && fromTs >= toTs) throw new QuorumError('invalid_time', 'from must be before to (to is exclusive)');
  const kinds = tickKinds(query.get('kinds'));
  const prevailing = prevailingSource(query.get('prevailing'));
  await barrier(node, query, limit);
  const id = node.market.idOf(instrument);
  if (id === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  return { body: await ticksPage(node.keys, id, instrument, node.market.producerTable(), { afterSeq: BigInt(afterRaw), fromTs, toTs, kinds, limit, keptSeq: () => node.market.keptFrom(id)?.seq, prevailing }) };
}

/** `prevailing=book` (or `true`): the L2 book's top before each event; `quote`: the last quote record; `false` or absent: none. */
function prevailingSource(raw: string | null): 'book' | 'quote' | undefined {
  if (raw === null || raw === 'false') return undefined;
  if (raw === 'true' || raw === 'book') return 'book';
  if (raw === 'quote') return 'quote';
  throw new QuorumError('invalid_query', 'prevailing is book (or true), quote, or false');
}

/** `?kinds=trade,quote`: some kinds of event only (undefined: all). */
function tickKinds(raw: string | null): Set<Kind> | undefined {
  if (raw === null) return undefined;
  const kinds = raw.split(',');
  for (const k of kinds) if (!Object.hasOwn(KIND_CODES, k)) throw new QuorumError('invalid_query', `kinds are delta, trade and quote; got ${JSON.stringify(k)}`);
  return new Set(kinds as Kind[]);
}

/**
 * `DELETE /v1/md/history?before=T` (admin): drops every instrument's stored events and book
 * checkpoints before venue time T, to its newest checkpoint before T (ts/market/purge.ts) →
 * `{"instruments":[{"instrument","fromSeq","fromTs"}]}`, the instruments cut and where each one's
 * history now starts. One entry, applied alike on every node; a repeat cuts nothing more.
 */
export async function purgeHistory(node: RaftNode, target: Target): Promise<Reply> {
  target.guard.admin();
  const before = target.query.get('before');
  if (before === null) throw new QuorumError('invalid_query', 'before is required: a venue time (integer ns or ISO-8601)');
  const beforeTs = parseVenueTime(before, 'before');
  const result = await node.propose({ op: Op.MdPurge, key: beforeTs.toString() });
  if (result.kind !== 'md_purged') throw unexpected(result.kind);
  return { body: { instruments: result.instruments } };
}

interface BookLevel {
  price: string;
  size: number;
}

/**
 * `GET /v1/md/books/{instrument}/vwap?side=buy|sell&qty=N`: the average price to fill `qty`
 * against the book (a buy walks the asks, a sell the bids), exact to 1e-9 (rounded down).
 */
export async function vwap(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  target.guard.check('md', instrument, 'read');
  const side = target.query.get('side');
  if (side !== 'buy' && side !== 'sell') throw new QuorumError('invalid_query', 'side must be "buy" or "sell"');
  const qtyRaw = target.query.get('qty') ?? '';
  if (!/^\d{1,15}$/.test(qtyRaw) || Number(qtyRaw) === 0) throw new QuorumError('invalid_query', 'qty must be a positive integer');
  const qty = BigInt(qtyRaw);
  await barrier(node, target.query);
  const view = node.market.bookView(instrument, LEVELS_PER_SIDE_MAX);
  if (view === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  const book = JSON.parse(view) as { seq: string; bids: BookLevel[]; asks: BookLevel[] };
  let filled = 0n;
  let notional = 0n;
  let levels = 0;
  let worst: string | null = null;
  for (const level of side === 'buy' ? book.asks : book.bids) {
    if (filled === qty) break;
    const take = BigInt(level.size) < qty - filled ? BigInt(level.size) : qty - filled;
    notional += take * parsePrice(level.price, 'price');
    filled += take;
    levels++;
    worst = level.price;
  }
  const avgPrice = filled === 0n ? null : formatPrice(notional / filled);
  return { body: { instrument, side, qty: Number(qty), filled: Number(filled), complete: filled === qty, avgPrice, worstPrice: worst, levels, seq: book.seq } };
}
