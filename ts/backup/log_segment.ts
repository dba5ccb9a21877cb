/**
 * Continuous log backup's objects.
 *
 * A segment, `wal/<first>-<last>-<term>.seg.zst` (indexes zero-padded so names sort by index;
 * `term` is the last entry's), is one zstd frame of:
 *
 *   "QKVLOG01" | headerLen u32 | header JSON | entries | SHA-256 of everything before it
 *
 * with every entry `[term u64][type u8][len u32][data]` (indexes are `first`, `first + 1`, ...).
 * The header carries the time marks: `[index, ms]` pairs saying that every entry up to `index`
 * was committed by wall-clock `ms` (the shipper samples the commit index), which is what a
 * restore to a point in time (`--time`) reads.
 *
 * The `wal/checkpoint` object names the last index shipped (sealed with its own checksum): a
 * new shipper (after a leader change) continues after it, so the log has no gap and no double.
 */
import { createHash } from 'node:crypto';
import { QuorumError } from '../errors';
import { zstdCompress, zstdDecompress } from '../native';
import type { Entry, EntryType } from '../raft/types';
import { readAll } from './manifest';
import type { BackupStore } from './store';

const MAGIC = Buffer.from('QKVLOG01');
const SHA256_BYTES = 32;
/** Entry bytes per segment (a segment decompresses into at most about this). */
export const SEGMENT_BYTES_MAX = 8 << 20;
/** What a segment may decompress into: its entries plus their framing and the header. */
const SEGMENT_DECOMPRESSED_BYTES_MAX = 2 * SEGMENT_BYTES_MAX + (1 << 20);
const ZSTD_LEVEL = 3;
export const CHECKPOINT_NAME = 'wal/checkpoint';

/** Every entry up to `index` was committed by wall-clock `ms`. */
export type Mark = [index: number, ms: number];

export interface SegmentHeader {
  first: number;
  last: number;
  /** The last entry's term. */
  term: number;
  /** The node that shipped it, and when. */
  node: number;
  /** Its cluster (absent in segments of older versions). */
  clusterId?: string;
  createdMs: number;
  marks: Mark[];
}

export interface SegmentName {
  name: string;
  first: number;
  last: number;
  term: number;
}

export interface LogCheckpoint {
  /** The last index shipped, its term, and the segment holding it. */
  last: number;
  term: number;
  segment: string;
  node: number;
  /** The cluster whose log this is (absent in checkpoints of older versions). */
  clusterId?: string;
  createdMs: number;
}

const pad = (n: number) => String(n).padStart(16, '0');
export const segmentName = (first: number, last: number, term: number) => `wal/${pad(first)}-${pad(last)}-${term}.seg.zst`;
const SEGMENT_NAME = /^wal\/(\d{16})-(\d{16})-(\d+)\.seg\.zst$/;

/** The segments among `names` (object names), by first index. */
export function segmentNames(names: readonly string[]): SegmentName[] {
  return names
    .flatMap((name) => {
      const m = SEGMENT_NAME.exec(name);
      return m ? [{ name, first: Number(m[1]), last: Number(m[2]), term: Number(m[3]) }] : [];
    })
    .sort((a, b) => a.first - b.first || a.last - b.last);
}

/** One sealed, compressed segment of consecutive entries. */
export async function encodeSegment(entries: readonly Entry[], node: { id: number; clusterId: string }, marks: Mark[]): Promise<{ name: string; body: Buffer; header: SegmentHeader }> {
  if (entries.length === 0) throw new QuorumError('INVARIANT', 'an empty log segment');
  const first = entries[0].index;
  const last = entries[entries.length - 1].index;
  if (last - first + 1 !== entries.length) throw new QuorumError('INVARIANT', `segment entries ${first}..${last} are not consecutive`);
  const header: SegmentHeader = { first, last, term: entries[entries.length - 1].term, node: node.id, clusterId: node.clusterId, createdMs: Date.now(), marks };
  const json = Buffer.from(JSON.stringify(header));
  const size = MAGIC.length + 4 + json.length + entries.reduce((n, e) => n + 13 + e.data.length, 0);
  const raw = Buffer.allocUnsafe(size + SHA256_BYTES);
  let at = MAGIC.copy(raw, 0);
  at = raw.writeUInt32LE(json.length, at);
  at += json.copy(raw, at);
  for (const e of entries) {
    at = raw.writeBigUInt64LE(BigInt(e.term), at);
    at = raw.writeUInt8(e.type, at);
    at = raw.writeUInt32LE(e.data.length, at);
    raw.set(e.data, at);
    at += e.data.length;
  }
  createHash('sha256').update(raw.subarray(0, size)).digest().copy(raw, size);
  return { name: segmentName(first, last, header.term), body: await zstdCompress(raw, ZSTD_LEVEL), header };
}

/** Opens a segment object, checking its checksum and that it holds what its name says. */
export async function decodeSegment(name: string, body: Buffer): Promise<{ header: SegmentHeader; entries: Entry[] }> {
  const corrupt = (why: string) => new QuorumError('backup_corrupt', `${name}: ${why}`, { details: { object: name } });
  let raw: Buffer;
  try {
    raw = await zstdDecompress(body, SEGMENT_DECOMPRESSED_BYTES_MAX);
  } catch (err) {
    throw corrupt(`not a readable zstd frame (${(err as Error).message})`);
  }
  const size = raw.length - SHA256_BYTES;
  if (size < MAGIC.length + 4 || !raw.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('not a log segment');
  if (!createHash('sha256').update(raw.subarray(0, size)).digest().equals(raw.subarray(size))) throw corrupt('its SHA-256 does not match its contents');
  const jsonLength = raw.readUInt32LE(MAGIC.length);
  let at = MAGIC.length + 4;
  const header = JSON.parse(raw.subarray(at, at + jsonLength).toString('utf8')) as SegmentHeader;
  at += jsonLength;
  const entries: Entry[] = [];
  for (let index = header.first; at < size; index++) {
    const term = Number(raw.readBigUInt64LE(at));
    const type = raw.readUInt8(at + 8) as EntryType;
    const length = raw.readUInt32LE(at + 9);
    at += 13;
    if (at + length > size) throw corrupt(`entry ${index} runs past the segment's end`);
    entries.push({ index, term, type, data: raw.subarray(at, at + length) });
    at += length;
  }
  const named = SEGMENT_NAME.exec(name);
  const last = entries.length > 0 ? entries[entries.length - 1] : undefined;
  if (!last || last.index !== header.last || last.term !== header.term) throw corrupt(`its entries end at ${last?.index ?? 'nothing'}, its header says ${header.last}`);
  if (named && (Number(named[1]) !== header.first || Number(named[2]) !== header.last || Number(named[3]) !== header.term)) throw corrupt('its name does not match its header');
  return { header, entries };
}

/** Reads and opens the segment `name` in `store`. */
export async function readSegment(store: BackupStore, name: string): Promise<{ header: SegmentHeader; entries: Entry[] }> {
  return decodeSegment(name, (await readAll(await store.read(name))).bytes);
}

function checksumOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function sealCheckpoint(cp: LogCheckpoint): Buffer {
  const text = JSON.stringify(cp);
  return Buffer.from(JSON.stringify({ checkpoint: cp, checksum: checksumOf(text) }));
}

/** Parses and checks the checkpoint object (`backup_corrupt` if it does not hold). */
export function openCheckpoint(body: Buffer): LogCheckpoint {
  const corrupt = (why: string) => new QuorumError('backup_corrupt', `${CHECKPOINT_NAME}: ${why}`, { details: { object: CHECKPOINT_NAME } });
  let doc: { checkpoint: LogCheckpoint; checksum: string };
  try {
    doc = JSON.parse(body.toString('utf8')) as typeof doc;
  } catch {
    throw corrupt('not JSON');
  }
  if (!doc.checkpoint || checksumOf(JSON.stringify(doc.checkpoint)) !== doc.checksum) throw corrupt('its checksum does not match its contents');
  return doc.checkpoint;
}
