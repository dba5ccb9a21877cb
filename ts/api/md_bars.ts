/**
 * `GET /v1/md/bars/{instrument}?interval=1m[&from=T][&to=T][&limit=n][&source=trades|mid][&consistency=stale]`: the
 * instrument's trades as OHLCV bars of `interval` aligned to the epoch (kdb+'s `xbar`), over
 * `[from, to)` of venue time →
 * `{"instrument","interval","intervalNs","from","to","bars":[{"start","open","high","low","close","volume","buyVolume","sellVolume","trades","vwap"}],"more","next"}`.
 * Bars without a trade are left out. A full answer (`limit` bars) has `more: true` and `next`,
 * the `from` of the next one. `source=mid`: bars of the mid of two-sided quotes (for markets
 * quoted rather than traded), `{"start","open","high","low","close","quotes"}` each.
 * `POST /v1/md/bars` asks the same of several instruments at once.
 */
import { QuorumError } from '../errors';
import { BARS_LIMIT_DEFAULT, BARS_LIMIT_MAX, barsOf } from '../market/bars';
import type { RaftNode } from '../node/raft_node';
import type { Target } from './http';
import { onlyFields, parseObject } from './args';
import { barrier } from './kv';
import type { Reply } from './reply';
import { parseDurationNs, parseVenueTime } from './venue_time';

const U64_MAX = 2n ** 64n - 1n;
/** Instruments per `POST /v1/md/bars` (their folds run one after another on the pool's reads). */
export const BARS_INSTRUMENTS_MAX = 100;
const BODY_FIELDS = new Set(['instruments', 'interval', 'from', 'to', 'source', 'limit']);

/** A bars request's arguments, from a query (GET) or a body (POST). */
interface BarsArgs {
  intervalRaw: string;
  intervalNs: bigint;
  fromTs: bigint;
  toTs: bigint;
  /** Whether the request named `to` (the answer shows null otherwise). */
  toGiven: boolean;
  source: 'trades' | 'mid';
  limit: number | undefined;
}

/** `get(name)`: the argument's text, null when absent. */
function barsArgs(get: (name: string) => string | null): BarsArgs {
  const intervalRaw = get('interval');
  if (intervalRaw === null) throw new QuorumError('invalid_query', 'interval is required: integer nanoseconds or e.g. "1s", "5m", "1h", "1d"');
  const intervalNs = parseDurationNs(intervalRaw, 'interval');
  const fromRaw = get('from');
  const toRaw = get('to');
  const fromTs = fromRaw === null ? 0n : parseVenueTime(fromRaw, 'from');
  const toTs = toRaw === null ? U64_MAX : parseVenueTime(toRaw, 'to');
  if (fromTs >= toTs) throw new QuorumError('invalid_time', 'from must be before to (to is exclusive)');
  const source = get('source') ?? 'trades';
  if (source !== 'trades' && source !== 'mid') throw new QuorumError('invalid_query', 'source is "trades" (default) or "mid"');
  const limitRaw = get('limit');
  const limit = limitRaw === null ? undefined : Number(limitRaw);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > BARS_LIMIT_MAX)) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${BARS_LIMIT_MAX}`);
  return { intervalRaw, intervalNs, fromTs, toTs, toGiven: toRaw !== null, source, limit };
}

/** One instrument's answer: `{"instrument"?, "bars", "more", "next"}` members, as text parts. */
async function instrumentBars(node: RaftNode, instrument: string, a: BarsArgs, limit: number): Promise<Buffer> {
  const id = node.market.idOf(instrument);
  if (id === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  const watch = { symbol: instrument, keptSeq: () => node.market.keptFrom(id)?.seq };
  const answer = await barsOf(node.keys, id, { source: a.source, fromTs: a.fromTs, toTs: a.toTs, intervalNs: a.intervalNs, limit }, watch);
  const next = answer.nextTs === undefined ? 'null' : `"${answer.nextTs}"`;
  return Buffer.concat([Buffer.from('"bars":'), answer.bars, Buffer.from(`,"more":${answer.nextTs !== undefined},"next":${next}`)]);
}

const head = (a: BarsArgs): string => `"interval":${JSON.stringify(a.intervalRaw)},"intervalNs":"${a.intervalNs}","from":"${a.fromTs}","to":${a.toGiven ? `"${a.toTs}"` : 'null'}`;

export async function bars(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  target.guard.check('md', instrument, 'read');
  const args = barsArgs((name) => target.query.get(name));
  await barrier(node, target.query);
  const body = await instrumentBars(node, instrument, args, args.limit ?? BARS_LIMIT_DEFAULT);
  return { raw: Buffer.concat([Buffer.from(`{"instrument":${JSON.stringify(instrument)},${head(args)},`), body, Buffer.from('}')]) };
}

/**
 * `POST /v1/md/bars` `{"instruments":[...],"interval",...}`: the same bars of several instruments
 * in one read (kdb+'s `select ... by sym, xbar`), each with its own `more`/`next`. `limit` is per
 * instrument, and instruments × limit ≤ `BARS_LIMIT_MAX` (the default limit shares that).
 */
export async function barsOfMany(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const doc = parseObject(body.toString('utf8'), '{"instruments": ["AAPL", ...], "interval": "1m"}');
  onlyFields(doc, BODY_FIELDS, 'the body');
  const instruments = doc.instruments;
  if (!Array.isArray(instruments) || instruments.length === 0 || !instruments.every((i) => typeof i === 'string' && i !== '')) throw new QuorumError('invalid_body', '"instruments" must be a non-empty array of instrument names');
  if (instruments.length > BARS_INSTRUMENTS_MAX) throw new QuorumError('invalid_body', `at most ${BARS_INSTRUMENTS_MAX} instruments`);
  if (new Set(instruments).size !== instruments.length) throw new QuorumError('invalid_body', 'an instrument is named twice');
  for (const i of instruments) target.guard.check('md', i, 'read');
  const args = barsArgs((name) => (doc[name] === undefined || doc[name] === null ? null : String(doc[name])));
  const limit = args.limit ?? Math.min(BARS_LIMIT_DEFAULT, Math.floor(BARS_LIMIT_MAX / instruments.length));
  if (limit * instruments.length > BARS_LIMIT_MAX) throw new QuorumError('invalid_limit', `instruments × limit is at most ${BARS_LIMIT_MAX} bars (${instruments.length} × ${limit})`);
  await barrier(node, target.query);
  const parts: Buffer[] = [Buffer.from(`{${head(args)},"instruments":[`)];
  for (const [n, instrument] of (instruments as string[]).entries()) {
    parts.push(Buffer.from(`${n > 0 ? ',' : ''}{"instrument":${JSON.stringify(instrument)},`), await instrumentBars(node, instrument, args, limit), Buffer.from('}'));
  }
  parts.push(Buffer.from(']}'));
  return { raw: Buffer.concat(parts) };
}
