/**
 * The 96-byte market record (the layout `crates/market/src/record.rs` documents) built from the
 * NDJSON event lines of `POST /v1/md/events`, and back. 64-bit fields are bigints end to end:
 * nanosecond timestamps are beyond 2^53, so they never pass through a JavaScript number.
 */
import { QuorumError } from '../errors';

export const RECORD_BYTES = 96;
export const F_LAST = 128;
export const F_SNAPSHOT = 32;
export const F_MAYBE_BAD_BOOK = 4;
/** A stored book (crates/market/src/book.rs `encode`): the seq and tsEvent of the last record it applied. */
export const BOOK_SEQ_OFFSET = 1;
export const BOOK_TS_OFFSET = 9;

export const KIND_CODES = { delta: 1, trade: 2, quote: 3 } as const;
export const ACTION_CODES = { add: 1, modify: 2, cancel: 3, clear: 4, snapshot: 5 } as const;
export type Kind = keyof typeof KIND_CODES;

export const OFFSET = {
  kind: 0,
  action: 1,
  side: 2,
  flags: 3,
  instrument: 4,
  publisher: 8,
  orders: 12,
  price: 16,
  size: 24,
  askPrice: 32,
  askSize: 40,
  tsEvent: 48,
  tsRecv: 56,
  venueSeq: 64,
  seq: 72,
  producer: 80,
  producerSeq: 88,
} as const;

const PRICE_SCALE = 1_000_000_000n;
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const PRICE_PATTERN = /^-?\d+(\.\d{1,9})?$/;

/** `"101.25"` → 101_250_000_000n (units of 1e-9); anything else is `invalid_event`. */
export function parsePrice(text: unknown, field: string): bigint {
  if (typeof text !== 'string' || !PRICE_PATTERN.test(text)) throw invalid(`"${field}" must be a decimal string with at most 9 decimals, e.g. "101.25"`);
  const negative = text.startsWith('-');
  const [whole, frac = ''] = (negative ? text.slice(1) : text).split('.');
  const units = BigInt(whole) * PRICE_SCALE + BigInt(frac.padEnd(9, '0'));
  if (units > I64_MAX) throw invalid(`"${field}" is out of range`);
  return negative ? -units : units;
}

/** 101_250_000_000n → `"101.25"` (the shortest form). */
export function formatPrice(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / PRICE_SCALE;
  const frac = (abs % PRICE_SCALE).toString().padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** A u64 field: a JSON integer (kept exact by `parseEventLine`) or a decimal string. */
export function parseU64(v: unknown, field: string, required = true): bigint | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) throw invalid(`"${field}" must be a non-negative integer (a JSON integer or a decimal string)`);
  const n = BigInt(v);
  if (n > U64_MAX) throw invalid(`"${field}" exceeds 2^64 - 1`);
  return n;
}

export function invalid(message: string): QuorumError {
  return new QuorumError('invalid_event', message);
}

/** The pattern `quoteIntegers` uses for `fields` (built once per set of fields, not per line). */
export function integerFields(fields: readonly string[]): RegExp {
  return new RegExp(`"(${fields.join('|')})"(\\s*):(\\s*)(\\d+)`, 'g');
}

/** JSON text whose integer values of the fields are quoted, so JSON.parse keeps them exact (64-bit values are beyond 2^53). */
export function quoteIntegers(text: string, fields: RegExp): string {
  return text.replace(fields, '"$1"$2:$3"$4"');
}

/** The u64 fields of an event line. */
const U64_FIELDS = integerFields(['tsEvent', 'tsRecv', 'producerSeq', 'venueSeq', 'seq']);

/** One NDJSON line as an object whose 64-bit fields are exact decimal strings. */
export function parseEventLine(line: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(quoteIntegers(line, U64_FIELDS));
  } catch (err) {
    throw invalid(`not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('an event is a JSON object');
  return doc as Record<string, unknown>;
}

const KIND_NAMES = ['', 'delta', 'trade', 'quote'];
const ACTION_NAMES = ['', 'add', 'modify', 'cancel', 'clear', 'snapshot', 'trade', 'fill'];
const BOOK_SIDES = ['none', 'bid', 'ask'];
const TRADE_SIDE_NAMES = ['none', 'buy', 'sell'];

/** A stored record as its ingest shape plus `seq` (64-bit values as decimal strings). */
export function recordToEvent(r: Buffer, symbol: string, producer: string): Record<string, unknown> {
  const kind = KIND_NAMES[r[OFFSET.kind]];
  const flags = r[OFFSET.flags];
  const out: Record<string, unknown> = { kind, instrument: symbol, seq: r.readBigUInt64LE(OFFSET.seq).toString(), tsEvent: r.readBigUInt64LE(OFFSET.tsEvent).toString(), tsRecv: r.readBigUInt64LE(OFFSET.tsRecv).toString(), producerId: producer, producerSeq: r.readBigUInt64LE(OFFSET.producerSeq).toString() };
  const venueSeq = r.readBigUInt64LE(OFFSET.venueSeq);
  if (venueSeq !== 0n) out.venueSeq = venueSeq.toString();
  const publisher = r.readUInt32LE(OFFSET.publisher);
  if (publisher !== 0) out.publisher = publisher;
  out.last = (flags & F_LAST) !== 0;
  if (flags & F_MAYBE_BAD_BOOK) out.maybeBad = true;
  if (kind === 'delta') {
    out.action = ACTION_NAMES[r[OFFSET.action]];
    if (out.action !== 'clear') {
      Object.assign(out, { side: BOOK_SIDES[r[OFFSET.side]], price: formatPrice(r.readBigInt64LE(OFFSET.price)), size: Number(r.readBigUInt64LE(OFFSET.size)), orders: r.readUInt32LE(OFFSET.orders) });
    }
  } else if (kind === 'trade') {
    Object.assign(out, { side: TRADE_SIDE_NAMES[r[OFFSET.side]], price: formatPrice(r.readBigInt64LE(OFFSET.price)), size: Number(r.readBigUInt64LE(OFFSET.size)) });
  } else {
    Object.assign(out, { bidPrice: formatPrice(r.readBigInt64LE(OFFSET.price)), bidSize: Number(r.readBigUInt64LE(OFFSET.size)), askPrice: formatPrice(r.readBigInt64LE(OFFSET.askPrice)), askSize: Number(r.readBigUInt64LE(OFFSET.askSize)) });
  }
  return out;
}
