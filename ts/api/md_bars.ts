/**
 * `GET /v1/md/bars/{instrument}?interval=1m[&from=T][&to=T][&limit=n][&source=trades|mid][&consistency=stale]`: the
 * instrument's trades as OHLCV bars of `interval` aligned to the epoch (kdb+'s `xbar`), over
 * `[from, to)` of venue time →
 * `{"instrument","interval","intervalNs","from","to","bars":[{"start","open","high","low","close","volume","buyVolume","sellVolume","trades","vwap"}],"more","next"}`.
 * Bars without a trade are left out. A full answer (`limit` bars) has `more: true` and `next`,
 * the `from` of the next one. `source=mid`: bars of the mid of two-sided quotes (for markets
 * quoted rather than traded), `{"start","open","high","low","close","quotes"}` each.
 */
import { QuorumError } from '../errors';
import { BARS_LIMIT_DEFAULT, BARS_LIMIT_MAX, barsOf } from '../market/bars';
import type { RaftNode } from '../node/raft_node';
import type { Target } from './http';
import { barrier } from './kv';
import type { Reply } from './reply';
import { parseDurationNs, parseVenueTime } from './venue_time';

const U64_MAX = 2n ** 64n - 1n;

export async function bars(node: RaftNode, target: Target, rawInstrument: string): Promise<Reply> {
  const instrument = decodeURIComponent(rawInstrument);
  target.guard.check('md', instrument, 'read');
  const query = target.query;
  const intervalRaw = query.get('interval');
  if (intervalRaw === null) throw new QuorumError('invalid_query', 'interval is required: integer nanoseconds or e.g. "1s", "5m", "1h", "1d"');
  const intervalNs = parseDurationNs(intervalRaw, 'interval');
  const fromRaw = query.get('from');
  const toRaw = query.get('to');
  const fromTs = fromRaw === null ? 0n : parseVenueTime(fromRaw, 'from');
  const toTs = toRaw === null ? U64_MAX : parseVenueTime(toRaw, 'to');
  if (fromTs >= toTs) throw new QuorumError('invalid_time', 'from must be before to (to is exclusive)');
  const source = query.get('source') ?? 'trades';
  if (source !== 'trades' && source !== 'mid') throw new QuorumError('invalid_query', 'source is "trades" (default) or "mid"');
  const limitRaw = query.get('limit');
  const limit = limitRaw === null ? BARS_LIMIT_DEFAULT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > BARS_LIMIT_MAX) throw new QuorumError('invalid_limit', `limit must be an integer in 1..${BARS_LIMIT_MAX}`);
  await barrier(node, query);
  const id = node.market.idOf(instrument);
  if (id === undefined) throw new QuorumError('unknown_instrument', `no events were ingested for ${instrument}`);
  const answer = await barsOf(node.keys, id, { source, fromTs, toTs, intervalNs, limit });
  const to = toRaw === null ? 'null' : `"${toTs}"`;
  const next = answer.nextTs === undefined ? 'null' : `"${answer.nextTs}"`;
  const head = `{"instrument":${JSON.stringify(instrument)},"interval":${JSON.stringify(intervalRaw)},"intervalNs":"${intervalNs}","from":"${fromTs}","to":${to},"bars":`;
  return { raw: Buffer.concat([Buffer.from(head), answer.bars, Buffer.from(`,"more":${answer.nextTs !== undefined},"next":${next}}`)]) };
}
