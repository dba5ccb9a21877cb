/**
 * `POST /v1/md/ingest`: long-lived streaming ingest for feed handlers (HTTP/2, or HTTP/1.1
 * chunked). The request body is NDJSON event lines, sent as they happen; the node cuts it into
 * batches (`BATCH_EVENTS_MAX` lines, or whatever arrived within `BATCH_WAIT_MS`), proposes
 * each, and answers on the same stream, in order, one line per batch once it is committed by a
 * majority and applied:
 *
 *   {"firstSeq","lastSeq","applied","duplicates","gaps","events"}   per batch (events: its lines)
 *   {"done":true,"events":n}                                         after the request ends
 *   {"error":{"code","message","line"?}}                             last line on a failure
 *
 * With `content-type: application/octet-stream` the body is binary instead: frames of
 * `len u32 | a binary batch` (the body of the fast path of POST /v1/md/events), each one batch;
 * an error then names the frame (`"frame"`, from 1) and the event in it (`"line"`).
 *
 * Batches acknowledged before an error are applied, and none after a malformed line is proposed.
 * After an error the producer resumes by resending from the producerSeq after the last
 * acknowledged one (whatever was applied meanwhile is skipped as a duplicate: exactly-once).
 * Backpressure: at most `INFLIGHT_BATCHES_MAX` batches in flight; the request is paused
 * meanwhile. Limits: `LINE_BYTES_MAX` per line.
 */
import { QuorumError } from '../errors';
import { type IngestBatch, parseBinary, parseNdjson } from '../market/batch';
import type { Guard } from '../auth/guard';
import { Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { errorAnswer } from './errors';
import { beginStream, mediaType, type Req, type Res } from './http';
import type { Reply } from './reply';

export const BATCH_EVENTS_MAX = 1000;
export const BATCH_WAIT_MS = 5;
export const INFLIGHT_BATCHES_MAX = 8;
export const LINE_BYTES_MAX = 64 << 10;
/** Largest binary frame (one batch) on a binary stream. */
export const FRAME_BYTES_MAX = 4 << 20;

export function ingestStream(node: RaftNode, req: Req, guard: Guard): Reply {
  return { stream: (res) => new IngestStream(node, req, res, guard).start() };
}

class IngestStream {
  /** The unfinished last line of the body so far. */
  private partial = '';
  /** Complete lines not yet cut into a batch. */
  private lines: string[] = [];
  /** Lines of the body before `lines[0]` (for error positions). */
  private linesBefore = 0;
  private inflight = 0;
  /** Acknowledgements are written in batch order: each waits for the one before. */
  private acks: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failed = false;
  /** Binary mode: bytes of frames not complete yet, and frames seen so far. */
  private binary: Buffer | undefined;
  private frames = 0;
  /** A line was malformed: nothing more is proposed (its error is written in turn). */
  private refused = false;
  private events = 0;

  constructor(
    private readonly node: RaftNode,
    private readonly req: Req,
    private readonly res: Res,
    private readonly guard: Guard,
  ) {}

  start(): void {
    beginStream(this.res, 'application/x-ndjson');
    if (mediaType(this.req.headers['content-type']) === 'application/octet-stream') this.binary = Buffer.alloc(0);
    this.req.on('data', (chunk: Buffer) => (this.binary ? this.onFrames(chunk) : this.onData(chunk)));
    this.req.on('end', () => this.onEnd());
    this.req.on('error', () => this.fail(new QuorumError('invalid_request', 'the request stream failed')));
  }

  private onData(chunk: Buffer): void {
    if (this.failed || this.refused) return;
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop()!;
    if (Buffer.byteLength(this.partial) > LINE_BYTES_MAX) return this.fail(new QuorumError('invalid_event', `a line is longer than ${LINE_BYTES_MAX} bytes`));
    for (const line of parts) if (line.trim().length > 0) this.lines.push(line);
    while (this.lines.length >= BATCH_EVENTS_MAX) this.cut(BATCH_EVENTS_MAX);
    if (this.lines.length > 0 && !this.timer) this.timer = setTimeout(() => this.cut(this.lines.length), BATCH_WAIT_MS);
  }

  /** Binary mode: every complete frame is one batch. */
  private onFrames(chunk: Buffer): void {
    if (this.failed || this.refused) return;
    let buf = Buffer.concat([this.binary!, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUInt32LE(0);
      if (len > FRAME_BYTES_MAX) return this.fail(new QuorumError('too_many_events', `a frame of ${len} bytes is larger than ${FRAME_BYTES_MAX}`));
      if (buf.length < 4 + len) break;
      const frame = Buffer.from(buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
      const number = ++this.frames;
      this.submit(() => {
        try {
          return parseBinary(frame, BigInt(Date.now()) * 1_000_000n);
        } catch (err) {
          const e = err as QuorumError;
          throw new QuorumError(e.code, `frame ${number}: ${e.message}`, { details: { ...e.details, frame: number } });
        }
      });
    }
    this.binary = buf;
  }

  private onEnd(): void {
    if (this.binary && this.binary.length > 0 && !this.failed && !this.refused) {
      this.submit(() => {
        throw new QuorumError('invalid_event', `the stream ended inside frame ${this.frames + 1}`);
      });
    }
    if (this.partial.trim().length > 0) this.lines.push(this.partial);
    this.partial = '';
    while (this.lines.length > 0) this.cut(Math.min(BATCH_EVENTS_MAX, this.lines.length));
    void this.acks.then(() => {
      if (!this.failed) this.res.end(`{"done":true,"events":${this.events}}\n`);
    });
  }

  /** Proposes the first `n` pending lines as one batch; its acknowledgement follows the others'. */
  private cut(n: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Always takes the lines (the callers loop until fewer are left), proposing them only while
    // nothing has failed.
    const lines = this.lines.splice(0, n);
    const before = this.linesBefore;
    this.linesBefore += lines.length;
    if (lines.length === 0) return;
    this.submit(() => {
      try {
        return parseNdjson(Buffer.from(lines.join('\n')), BigInt(Date.now()) * 1_000_000n);
      } catch (err) {
        const e = err as QuorumError;
        if (typeof e.details?.line !== 'number') throw err;
        const line = before + e.details.line;
        throw new QuorumError(e.code, e.message.replace(/^event \d+/, `event ${line}`), { details: { line } });
      }
    });
  }

  /**
   * Proposes the batch `make` builds; its acknowledgement is written after the earlier ones'.
   * If it cannot be built (malformed), nothing more is proposed and the error ends the stream
   * in turn.
   */
  private submit(make: () => IngestBatch): void {
    if (this.failed || this.refused) return;
    let answer: Promise<unknown>;
    let count = 0;
    try {
      const batch = make();
      for (const symbol of batch.symbols) this.guard.check('md', symbol, 'readwrite');
      count = batch.count;
      answer = this.node.propose({ op: Op.MdIngest, key: '', md: batch });
    } catch (err) {
      this.refused = true;
      answer = Promise.reject(err);
    }
    // Handled in turn by the acks chain; until then a rejection must not count as unhandled.
    answer.catch(() => undefined);
    this.inflight++;
    if (this.inflight >= INFLIGHT_BATCHES_MAX) this.req.pause();
    this.acks = this.acks.then(() => answer).then(
      (result) => this.ack(result as { kind: string; [k: string]: unknown }, count),
      (err: Error) => this.fail(err),
    );
  }

  private ack(result: { kind: string; [k: string]: unknown }, count: number): void {
    this.inflight--;
    if (this.inflight < INFLIGHT_BATCHES_MAX) this.req.resume();
    if (this.failed) return;
    if (result.kind !== 'md') return this.fail(new QuorumError(result.kind === 'md_refused' ? (result.code as 'too_many_instruments' | 'too_many_producers') : 'INVARIANT', String(result.message ?? result.kind)));
    this.events += count;
    const { kind: _kind, ...answer } = result;
    this.res.write(`${JSON.stringify({ ...answer, events: count })}\n`);
  }

  /** Ends the stream with an error line; nothing after the failed batch is proposed. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.timer);
    this.lines = [];
    this.res.end(`${JSON.stringify(errorAnswer(err).body)}\n`);
    this.req.resume(); // drain what the client still sends
  }
}
