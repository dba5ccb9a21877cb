/**
 * An ingest batch: NDJSON event lines checked and packed into market records, with the symbol
 * and producer tables the records index into. A malformed line fails the whole batch with its
 * line number; nothing of it is proposed.
 *
 * Limits: `EVENTS_PER_BATCH_MAX` records (a record's position in its entry is 16 bits of its
 * seq), `SYMBOL_BYTES_MAX` per instrument name, `PRODUCER_BYTES_MAX` per producer id.
 */
import { BinaryReader, BinaryWriter } from '../binary';
import { QuorumError } from '../errors';
import { ACTION_CODES, F_LAST, F_SNAPSHOT, invalid, KIND_CODES, type Kind, OFFSET, parseEventLine, parsePrice, parseU64, RECORD_BYTES } from './records';

export const EVENTS_PER_BATCH_MAX = 65_535;
export const SYMBOL_BYTES_MAX = 64;
export const PRODUCER_BYTES_MAX = 128;

export interface IngestBatch {
  /** Instrument names; records hold an index into this table until applied. */
  symbols: string[];
  /** Producer ids; records hold an index into this table. */
  producers: string[];
  /** `count` records of `RECORD_BYTES` each. */
  records: Buffer;
  count: number;
}

class Tables {
  readonly symbols: string[] = [];
  readonly producers: string[] = [];
  private readonly symbolIndex = new Map<string, number>();
  private readonly producerIndex = new Map<string, number>();

  symbol(name: unknown): number {
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > SYMBOL_BYTES_MAX || name.includes('/')) {
      throw invalid(`"instrument" must be a non-empty name of at most ${SYMBOL_BYTES_MAX} bytes without "/"`);
    }
    return index(this.symbols, this.symbolIndex, name);
  }

  producer(id: unknown): number {
    if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > PRODUCER_BYTES_MAX) throw invalid(`"producerId" must be a non-empty string of at most ${PRODUCER_BYTES_MAX} bytes`);
    return index(this.producers, this.producerIndex, id);
  }
}

function index(list: string[], map: Map<string, number>, key: string): number {
  let i = map.get(key);
  if (i === undefined) {
    i = list.length;
    list.push(key);
    map.set(key, i);
  }
  return i;
}

const SIDES: Record<string, number> = { bid: 1, ask: 2 };
const TRADE_SIDES: Record<string, number> = { buy: 1, sell: 2, none: 0 };

function size(v: unknown, field: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`"${field}" must be a non-negative integer`);
  return BigInt(v);
}

/** Writes one event's fields into the record at `out[at..]`. */
function encodeEvent(e: Record<string, unknown>, out: Buffer, at: number, tables: Tables, tsRecv: bigint): void {
  const kind = e.kind as Kind;
  if (!(kind in KIND_CODES)) throw invalid('"kind" must be "delta", "trade" or "quote"');
  out[at + OFFSET.kind] = KIND_CODES[kind];
  out.writeUInt32LE(tables.symbol(e.instrument), at + OFFSET.instrument);
  out.writeUInt32LE(tables.producer(e.producerId), at + OFFSET.producer);
  out.writeBigUInt64LE(parseU64(e.producerSeq, 'producerSeq')!, at + OFFSET.producerSeq);
  out.writeBigUInt64LE(parseU64(e.tsEvent, 'tsEvent')!, at + OFFSET.tsEvent);
  out.writeBigUInt64LE(parseU64(e.tsRecv, 'tsRecv', false) ?? tsRecv, at + OFFSET.tsRecv);
  out.writeBigUInt64LE(parseU64(e.venueSeq, 'venueSeq', false) ?? 0n, at + OFFSET.venueSeq);
  if (e.publisher !== undefined) out.writeUInt32LE(Number(size(e.publisher, 'publisher') & 0xffffffffn), at + OFFSET.publisher);
  if (e.last !== undefined && typeof e.last !== 'boolean') throw invalid('"last" must be true or false');
  let flags = e.last === false ? 0 : F_LAST;
  if (kind === 'delta') flags |= encodeDelta(e, out, at);
  else if (kind === 'trade') encodeTrade(e, out, at);
  else encodeQuote(e, out, at);
  out[at + OFFSET.flags] = flags;
}

function encodeDelta(e: Record<string, unknown>, out: Buffer, at: number): number {
  const action = ACTION_CODES[e.action as keyof typeof ACTION_CODES];
  if (action === undefined) throw invalid('"action" must be "add", "modify", "cancel", "clear" or "snapshot"');
  out[at + OFFSET.action] = action;
  if (e.action === 'clear') return 0;
  const side = SIDES[e.side as string];
  if (side === undefined) throw invalid('"side" of a delta must be "bid" or "ask"');
  out[at + OFFSET.side] = side;
  out.writeBigInt64LE(parsePrice(e.price, 'price'), at + OFFSET.price);
  out.writeBigUInt64LE(e.action === 'cancel' ? 0n : size(e.size, 'size'), at + OFFSET.size);
  if (e.orders !== undefined) out.writeUInt32LE(Number(size(e.orders, 'orders') & 0xffffffffn), at + OFFSET.orders);
  return e.action === 'snapshot' ? F_SNAPSHOT : 0;
}

function encodeTrade(e: Record<string, unknown>, out: Buffer, at: number): void {
  const side = TRADE_SIDES[(e.side as string | undefined) ?? 'none'];
  if (side === undefined) throw invalid('"side" of a trade must be "buy", "sell" or "none"');
  out[at + OFFSET.side] = side;
  out.writeBigInt64LE(parsePrice(e.price, 'price'), at + OFFSET.price);
  out.writeBigUInt64LE(size(e.size, 'size'), at + OFFSET.size);
}

function encodeQuote(e: Record<string, unknown>, out: Buffer, at: number): void {
  out.writeBigInt64LE(parsePrice(e.bidPrice, 'bidPrice'), at + OFFSET.price);
  out.writeBigUInt64LE(size(e.bidSize, 'bidSize'), at + OFFSET.size);
  out.writeBigInt64LE(parsePrice(e.askPrice, 'askPrice'), at + OFFSET.askPrice);
  out.writeBigUInt64LE(size(e.askSize, 'askSize'), at + OFFSET.askSize);
}

/**
 * Parses an NDJSON body. `tsRecv` (ns) stands in for events that carry none. Every
 * instrument's last record must end its venue event (`last` not false), so a book is never left
 * showing half an event.
 */
export function parseNdjson(body: Buffer, tsRecv: bigint): IngestBatch {
  const lines = body.toString('utf8').split('\n').filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw invalid('the batch holds no events');
  if (lines.length > EVENTS_PER_BATCH_MAX) throw new QuorumError('too_many_events', `at most ${EVENTS_PER_BATCH_MAX} events per batch`);
  const tables = new Tables();
  const records = Buffer.alloc(lines.length * RECORD_BYTES);
  for (let i = 0; i < lines.length; i++) {
    try {
      encodeEvent(parseEventLine(lines[i]), records, i * RECORD_BYTES, tables, tsRecv);
    } catch (err) {
      if (!(err instanceof QuorumError)) throw err;
      throw new QuorumError(err.code, `event ${i + 1}: ${err.message}`, { details: { line: i + 1 } });
    }
  }
  const batch = { symbols: tables.symbols, producers: tables.producers, records, count: lines.length };
  checkOrder(batch);
  return batch;
}

/**
 * No instrument is left inside an event at the end of the batch. (A producerSeq at or below an
 * earlier one of its producer — in this batch or before — is a duplicate, skipped at apply.)
 */
function checkOrder(batch: IngestBatch): void {
  const open = new Map<number, number>();
  for (let i = 0; i < batch.count; i++) {
    const at = i * RECORD_BYTES;
    const instrument = batch.records.readUInt32LE(at + OFFSET.instrument);
    if (batch.records[at + OFFSET.flags] & F_LAST) open.delete(instrument);
    else open.set(instrument, i + 1);
  }
  for (const [instrument, line] of open) {
    throw new QuorumError('invalid_event', `event ${line}: ${batch.symbols[instrument]}'s last event in the batch has "last": false (an event may not span batches)`, { details: { line } });
  }
}

/**
 * The binary form of a batch — the fast path of `POST /v1/md/events` (application/octet-stream)
 * and the payload of its log entry:
 *
 *   symbols u32 | (len u32 + utf8)* | producers u32 | (len u32 + utf8)* | records (len u32 + count × RECORD_BYTES)
 *
 * where each record's instrument and producer fields index the two tables.
 */
export function encodeBatch(w: BinaryWriter, batch: IngestBatch): void {
  for (const table of [batch.symbols, batch.producers]) {
    w.u32(table.length);
    for (const name of table) w.str(name);
  }
  w.bytes(batch.records);
}

export function decodeBatch(r: BinaryReader, fail: (what: string) => Error): IngestBatch {
  const tables = [0, 1].map(() => {
    const out: string[] = [];
    for (let n = r.count('table size', 4); n > 0; n--) out.push(r.str('name'));
    return out;
  });
  const records = r.bytes('records');
  if (records.length % RECORD_BYTES !== 0) throw fail(`records of ${records.length} bytes`);
  return { symbols: tables[0], producers: tables[1], records, count: records.length / RECORD_BYTES };
}

/** A batch as one frame of a binary stream or file: `len u32 | toBinary(batch)`. */
export function toFrame(batch: IngestBatch): Buffer {
  const body = toBinary(batch);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([len, body]);
}

/** A batch as the fast path's request body. */
export function toBinary(batch: IngestBatch): Buffer {
  const w = new BinaryWriter(batch.records.length + 64 * (batch.symbols.length + batch.producers.length) + 16);
  encodeBatch(w, batch);
  return Buffer.from(w.finish());
}

const KINDS = new Set<number>(Object.values(KIND_CODES));
const ACTIONS = new Set<number>(Object.values(ACTION_CODES));

/** What is wrong with the binary record at `at` (undefined: nothing). */
function recordProblem(rec: Buffer, at: number, batch: IngestBatch): string | undefined {
  if (!KINDS.has(rec[at + OFFSET.kind])) return `unknown kind ${rec[at + OFFSET.kind]}`;
  if (rec[at + OFFSET.kind] === KIND_CODES.delta && !ACTIONS.has(rec[at + OFFSET.action])) return `unknown action ${rec[at + OFFSET.action]}`;
  if (rec[at + OFFSET.side] > 2) return `unknown side ${rec[at + OFFSET.side]}`;
  if (rec.readUInt32LE(at + OFFSET.instrument) >= batch.symbols.length) return 'instrument index outside the symbol table';
  if (rec.readUInt32LE(at + OFFSET.producer) >= batch.producers.length) return 'producer index outside the producer table';
  return undefined;
}

/** Parses and checks a binary batch: the same rules as NDJSON, without any text parsing. */
export function parseBinary(body: Buffer, tsRecv: bigint): IngestBatch {
  const r = new BinaryReader(body, (what) => invalid(`malformed binary batch: ${what}`));
  const batch = decodeBatch(r, (what) => invalid(`malformed binary batch: ${what}`));
  r.end();
  if (batch.count === 0) throw invalid('the batch holds no events');
  if (batch.count > EVENTS_PER_BATCH_MAX) throw new QuorumError('too_many_events', `at most ${EVENTS_PER_BATCH_MAX} events per batch`);
  const tables = new Tables();
  for (const s of batch.symbols) if (tables.symbol(s) !== tables.symbols.length - 1) throw invalid(`symbol ${s} appears twice in the table`);
  for (const p of batch.producers) if (tables.producer(p) !== tables.producers.length - 1) throw invalid(`producer ${p} appears twice in the table`);
  // tsRecv as two 32-bit halves: no BigInt per record on the request path.
  const [tsLow, tsHigh] = [Number(tsRecv & 0xffff_ffffn), Number(tsRecv >> 32n)];
  const rec = batch.records;
  for (let i = 0, at = 0; i < batch.count; i++, at += RECORD_BYTES) {
    const problem = recordProblem(rec, at, batch);
    if (problem) throw new QuorumError('invalid_event', `event ${i + 1}: ${problem}`, { details: { line: i + 1 } });
    if (rec.readUInt32LE(at + OFFSET.tsRecv) === 0 && rec.readUInt32LE(at + OFFSET.tsRecv + 4) === 0) {
      rec.writeUInt32LE(tsLow, at + OFFSET.tsRecv);
      rec.writeUInt32LE(tsHigh, at + OFFSET.tsRecv + 4);
    }
    rec.fill(0, at + OFFSET.seq, at + OFFSET.seq + 8);
  }
  checkOrder(batch);
  return batch;
}
