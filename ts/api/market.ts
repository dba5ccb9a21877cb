/**
 * The market-data routes:
 *
 *   POST /v1/md/events                 NDJSON event lines → {"firstSeq","lastSeq","applied","duplicates","gaps"}
 *   GET  /v1/md/books/{instrument}     ?depth=10 (1..DEPTH_MAX) &consistency=stale → the book
 *   GET  /v1/md/feeds                  producers with their high-water marks, and detected gaps
 *   GET  /v1/md/ticks/{instrument}     ?afterSeq=&limit= (≤ TICKS_LIMIT_MAX) → {"events":[...],"more"}
 *
 * A batch is one Raft proposal, acknowledged once committed by a majority and applied; a
 * malformed line fails the whole batch (400 with its line), nothing of it applied. Reads are
 * linearizable (ReadIndex) unless `?consistency=stale`.
 */
import { QuorumError } from '../errors';
import { parseNdjson } from '../market/batch';
import { Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import type { Target } from './http';
import { barrier, unexpected } from './kv';
import type { Reply } from './reply';

export const DEPTH_MAX = 1000;
export const TICKS_LIMIT_MAX = 10_000;
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/jsonl', 'application/json-seq']);

export async function ingest(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const type = (target.contentType ?? 'application/x-ndjson').split(';')[0].trim().toLowerCase();
  if (!NDJSON_TYPES.has(type)) throw new QuorumError('unsupported_media_type', `send events as application/x-ndjson, not ${type}`);
  const batch = parseNdjson(body, BigInt(Date.now()) * 1_000_000n);
  const result = await node.propose({ op: Op.MdIngest, key: '', md: batch });
  if (result.kind === 'md_refused') throw new QuorumError(result.code, result.message);
  if (result.kind !== 'md') throw unexpected(result.kind);
  const { kind: _kind, ...answer } = result;
  return { body: answer };
}

export async function book(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  const depthRaw = target.query.get('depth');
  const depth = depthRaw === null ? 10 : Number(depthRaw);
  if (!Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) throw new QuorumError('invalid_depth', `depth must be an integer in 1..${DEPTH_MAX}`);
  await barrier(node, target.query);
  const view = node.market.bookView(instrument, depth);
  if (view === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  return { raw: view };
}

export async function feeds(node: RaftNode, target: Target): Promise<Reply> {
  await barrier(node, target.query);
  return { body: node.market.feeds() };
}

export async function ticks(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  const limitRaw = target.query.get('limit');
  const limit = limitRaw === null ? 1000 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > TICKS_LIMIT_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${TICKS_LIMIT_MAX}`);
  const afterRaw = target.query.get('afterSeq') ?? '0';
  if (!/^\d{1,20}$/.test(afterRaw)) throw new QuorumError('invalid_limit', 'afterSeq must be a seq (a decimal integer)');
  await barrier(node, target.query);
  const page = await node.market.events(node.engine, instrument, BigInt(afterRaw), limit);
  if (!page) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  return { body: page };
}
