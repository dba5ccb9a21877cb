/**
 * `GET /v1/md/instruments[?prefix=P][&after=NAME][&limit=n]`: the instruments this store holds,
 * in name order, a page at a time — what a quant asks first of a store (kdb+'s `select distinct
 * sym`, with each one's range): `{"instruments":[{"instrument","firstSeq","firstTsEvent",
 * "lastSeq","lastTsEvent","keptFromSeq","maybeBad"}],"more","next"?}`.
 *
 * `last*` is the last event applied (the live book's seq and time); `first*` the first event still
 * stored (after a purge, past `keptFromSeq`, where its kept history starts; null: never purged).
 * An instrument named by a batch whose events were all duplicates has no events: nulls. Names
 * and books are one cut of the applied state; the first events are read after it (a purge in
 * between moves them on). A token allowed only some instruments lists only those.
 *
 * Limits: `limit` ≤ `INSTRUMENTS_PAGE_MAX`; a page reads one record per instrument listed.
 */
import { QuorumError } from '../errors';
import { OFFSET, RECORD_BYTES } from '../market/records';
import { eventsPrefix, prefixEnd } from '../market/state';
import type { RaftNode } from '../node/raft_node';
import type { Target } from './http';
import { barrier } from './kv';
import type { Reply } from './reply';

export const INSTRUMENTS_PAGE_MAX = 1000;
const INSTRUMENTS_PAGE_DEFAULT = 100;

interface Listed {
  instrument: string;
  firstSeq: string | null;
  firstTsEvent: string | null;
  lastSeq: string | null;
  lastTsEvent: string | null;
  keptFromSeq: string | null;
  maybeBad: boolean;
}

export async function listInstruments(node: RaftNode, target: Target): Promise<Reply> {
  const query = target.query;
  const prefix = query.get('prefix') ?? '';
  const after = query.get('after');
  const limit = Number(query.get('limit') ?? INSTRUMENTS_PAGE_DEFAULT);
  if (!Number.isInteger(limit) || limit < 1 || limit > INSTRUMENTS_PAGE_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${INSTRUMENTS_PAGE_MAX}`);
  const visible = target.guard.visible('md', prefix);
  await barrier(node, query);
  const names = node.market
    .names()
    .filter((n) => n.startsWith(prefix) && (after === null || byName(n, after) > 0) && (visible === undefined || visible(n)))
    .sort(byName);
  const page = names.slice(0, limit);
  // One cut: every book and kept start before the first await.
  const ids = page.map((instrument) => node.market.idOf(instrument)!);
  const listed = page.map((instrument, n) => described(node, instrument, ids[n]));
  await Promise.all(listed.map((item, n) => firstStored(node, item, ids[n])));
  const more = names.length > limit;
  return { body: more ? { instruments: listed, more, next: page.at(-1) } : { instruments: listed, more } };
}

/** Names compare as their UTF-8 bytes (the order of keys and key ranges too). */
function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function described(node: RaftNode, instrument: string, id: number): Listed {
  const view = node.market.bookView(instrument, 1);
  const book = view === undefined ? undefined : (JSON.parse(view) as { seq: string; tsEvent: string; maybeBad: boolean });
  const kept = node.market.keptFrom(id);
  return {
    instrument,
    firstSeq: null,
    firstTsEvent: null,
    lastSeq: book?.seq ?? null,
    lastTsEvent: book?.tsEvent ?? null,
    keptFromSeq: kept === undefined ? null : kept.seq.toString(),
    maybeBad: book?.maybeBad ?? false,
  };
}

/** Fills in the first stored event: the first record of the instrument's first block. */
async function firstStored(node: RaftNode, item: Listed, id: number): Promise<void> {
  const prefix = eventsPrefix(id);
  const page = await node.keys.scan({ start: prefix, end: prefixEnd(prefix), limit: 1, valuePrefixBytes: RECORD_BYTES });
  const record = page.items[0]?.value;
  if (record === undefined || record.length < RECORD_BYTES) return;
  item.firstSeq = record.readBigUInt64LE(OFFSET.seq).toString();
  item.firstTsEvent = record.readBigUInt64LE(OFFSET.tsEvent).toString();
}
