/**
 * Venue times and durations as requests give them, exact to the nanosecond (never through a
 * JavaScript number above 2^53): a time is integer nanoseconds since the epoch (a JSON integer
 * or a decimal string) or an ISO-8601 time with up to 9 fractional digits and a zone
 * (`2023-11-14T22:13:20.123456789Z`); a duration is integer nanoseconds or a number with a unit
 * (`250ms`, `1s`, `100us`, `5m`).
 */
import { QuorumError } from '../errors';

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n };
const U64_MAX = 2n ** 64n - 1n;

/** `field`'s value as venue-time nanoseconds; `invalid_time` otherwise. */
export function parseVenueTime(raw: unknown, field: string): bigint {
  const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
  if (typeof text !== 'string') throw badTime(field);
  if (/^\d{1,20}$/.test(text)) return bounded(BigInt(text), field);
  const m = ISO.exec(text);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms) || ms < 0) throw badTime(field);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** `field`'s value as a positive duration in nanoseconds; `invalid_time` otherwise. */
export function parseDurationNs(raw: unknown, field: string): bigint {
  const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
  const m = typeof text === 'string' ? /^(\d{1,20})(ns|us|ms|s|m|h|d)?$/.exec(text) : null;
  const ns = m ? BigInt(m[1]) * UNIT_NS[m[2] ?? 'ns'] : 0n;
  if (ns <= 0n || ns > U64_MAX) throw new QuorumError('invalid_time', `${field} must be a positive duration: integer nanoseconds or e.g. "250ms", "1s", "5m"`);
  return ns;
}

function bounded(ns: bigint, field: string): bigint {
  if (ns > U64_MAX) throw badTime(field);
  return ns;
}

function badTime(field: string): QuorumError {
  return new QuorumError('invalid_time', `${field} must be integer nanoseconds or an ISO-8601 time such as 2023-11-14T22:13:20.5Z`);
}
