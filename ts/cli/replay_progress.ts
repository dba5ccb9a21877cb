/**
 * What a replay's response passes to the CLI's output: whole NDJSON lines or binary frames only
 * (a unit cut by a broken connection is never written), counted for the progress line (market
 * time, events/s, snapshots/s, lag), with the resume token — the seq of the last event — so a
 * broken session continues on another member exactly after it.
 */
import { OFFSET } from '../market/records';

export interface ProgressOptions {
  speed: number | 'max';
  format: 'ndjson' | 'binary';
}

const BOOK = Buffer.from('{"kind":"book"');
const DONE = Buffer.from('{"kind":"done"');
/** The server ends a session that failed after its headers with this line (not data). */
const END = Buffer.from('{"kind":"end"');
const SEQ = Buffer.from('"seq":"');
const TS = Buffer.from('"tsEvent":"');
const NEWLINE = 10;
/** Binary frame types: 0 the header, 1 an event's record, 2 a book, 3 done. */
const HEADER_FRAME = 0;
const EVENT_FRAME = 1;
const BOOK_FRAME = 2;
const DONE_FRAME = 3;

export class Progress {
  /** Binary: event frames; NDJSON: every line (events, books and the final `done`). */
  events = 0;
  snapshots = 0;
  private done = 0;
  firstTs: bigint | undefined;
  lastTs = 0n;
  /** The seq of the last event passed: a broken session resumes after it. */
  lastSeq: string | undefined;
  /** The `done` line or frame passed: the session is complete. */
  finished = false;
  /** Anything passed yet (a session broken before that can simply be opened again). */
  passed = false;
  /** The bytes of an unfinished line or frame, held until the rest comes. */
  private rest = Buffer.alloc(0);
  /** Binary: the first session's header frame; a resumed session's is dropped when the same. */
  private header: Buffer | undefined;
  private readonly started = Date.now();

  constructor(private readonly opts: ProgressOptions) {}

  /** The whole lines or frames `chunk` completes (with what earlier chunks left), to be written. */
  take(chunk: Buffer): Buffer {
    const buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const whole = this.opts.format === 'binary' ? this.frames(buf) : this.lines(buf);
    this.rest = Buffer.from(buf.subarray(whole.end));
    if (whole.out.length > 0) this.passed = true;
    return whole.out;
  }

  /** The session broke: a new one continues; what the broken one left unfinished is dropped. */
  reopened(): void {
    this.rest = Buffer.alloc(0);
  }

  private lines(buf: Buffer): { out: Buffer; end: number } {
    const end = buf.lastIndexOf(NEWLINE) + 1;
    let out = buf.subarray(0, end);
    const failed = out.indexOf(END);
    if (failed !== -1) out = out.subarray(0, failed); // not data: the session failed and ends here
    for (let at = out.indexOf(NEWLINE); at !== -1; at = out.indexOf(NEWLINE, at + 1)) this.events++;
    for (let at = out.indexOf(BOOK); at !== -1; at = out.indexOf(BOOK, at + 1)) this.snapshots++;
    if (out.includes(DONE)) {
      this.done++;
      this.finished = true;
    }
    this.lastSeq = lastEventSeq(out) ?? this.lastSeq;
    const ts = out.lastIndexOf(TS);
    if (ts !== -1) this.reached(BigInt(quoted(out.subarray(ts), TS)!));
    return { out, end };
  }

  private frames(buf: Buffer): { out: Buffer; end: number } {
    const parts: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 5 && buf.length - at >= 5 + buf.readUInt32LE(at + 1)) {
      const frame = buf.subarray(at, at + 5 + buf.readUInt32LE(at + 1));
      at += frame.length;
      if (frame[0] === HEADER_FRAME) {
        if (this.header?.equals(frame)) continue; // a resumed session's, the same as the first
        this.header ??= Buffer.from(frame);
      } else if (frame[0] === EVENT_FRAME) {
        this.events++;
        this.reached(frame.readBigUInt64LE(5 + OFFSET.tsEvent));
        this.lastSeq = frame.readBigUInt64LE(5 + OFFSET.seq).toString();
      } else if (frame[0] === BOOK_FRAME) this.snapshots++;
      else if (frame[0] === DONE_FRAME) this.finished = true;
      parts.push(frame);
    }
    return { out: parts.length === 1 ? parts[0] : Buffer.concat(parts), end: at };
  }

  private reached(ts: bigint): void {
    this.firstTs ??= ts;
    this.lastTs = ts;
  }

  line(): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const market = this.lastTs > 0n ? new Date(Number(this.lastTs / 1_000_000n)).toISOString() : '-';
    const behind = this.opts.speed === 'max' || this.firstTs === undefined ? '' : `  lag ${Math.max(0, Math.round(seconds * 1000 - Number(this.lastTs - this.firstTs) / 1e6 / this.opts.speed))} ms`;
    const events = this.opts.format === 'binary' ? this.events : this.events - this.snapshots - this.done;
    return `\rmarket ${market}  ${events.toLocaleString('en-US')} events  ${Math.round(events / seconds).toLocaleString('en-US')} events/s  ${Math.round(this.snapshots / seconds).toLocaleString('en-US')} snapshots/s${behind}  `;
  }
}

const startsWith = (line: Buffer, prefix: Buffer): boolean => line.length >= prefix.length && line.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

/** The seq of the last event line of `text` (whole lines; book and done lines are not events). */
function lastEventSeq(text: Buffer): string | undefined {
  for (let end = text.length - 1; end > 0; ) {
    const start = text.lastIndexOf(NEWLINE, end - 1) + 1;
    const line = text.subarray(start, end);
    if (!startsWith(line, BOOK) && !startsWith(line, DONE)) return quoted(line, SEQ);
    end = start - 1;
  }
  return undefined;
}

/** The digits after `key` (`"seq":"`) in `line`, if it has it. */
function quoted(line: Buffer, key: Buffer): string | undefined {
  const at = line.indexOf(key);
  if (at === -1) return undefined;
  const from = at + key.length;
  const end = line.indexOf(34, from); // the closing quote
  return end === -1 ? undefined : line.toString('latin1', from, end);
}
