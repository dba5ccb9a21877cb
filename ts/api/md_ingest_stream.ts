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
 * Batches acknowledged before an error are applied, and none after a malformed line is proposed.
 * After an error the producer resumes by resending from the producerSeq after the last
 * acknowledged one (whatever was applied meanwhile is skipped as a duplicate: exactly-once).
 * Backpressure: at most `INFLIGHT_BATCHES_MAX` batches in flight; the request is paused
 * meanwhile. Limits: `LINE_BYTES_MAX` per line.
 */
import type { ServerResponse } from 'node:http';
import { QuorumError } from '../errors';
import { parseNdjson } from '../market/batch';
import { Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { errorAnswer } from './errors';
import type { Req, Res } from './http';
import type { Reply } from './reply';

export const BATCH_EVENTS_MAX = 1000;
export const BATCH_WAIT_MS = 5;
export const INFLIGHT_BATCHES_MAX = 8;
export const LINE_BYTES_MAX = 64 << 10;

export function ingestStream(node: RaftNode, req: Req): Reply {
  return { stream: (res) => new IngestStream(node, req, res).start() };
}

class IngestStream {
  private readonly res: ServerResponse;
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
  /** A line was malformed: nothing more is proposed (its error is written in turn). */
  private refused = false;
  private events = 0;

  constructor(
    private readonly node: RaftNode,
    private readonly req: Req,
    res: Res,
  ) {
    this.res = res as ServerResponse;
  }

  start(): void {
    this.res.writeHead(200, ['content-type', 'application/x-ndjson', 'cache-control', 'no-cache']);
    this.res.flushHeaders?.();
    this.req.on('data', (chunk: Buffer) => this.onData(chunk));
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

  private onEnd(): void {
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
    if (this.failed || this.refused || lines.length === 0) return;
    const before = this.linesBefore;
    this.linesBefore += n;
    let answer: Promise<unknown>;
    try {
      const batch = parseNdjson(Buffer.from(lines.join('\n')), BigInt(Date.now()) * 1_000_000n);
      answer = this.node.propose({ op: Op.MdIngest, key: '', md: batch });
    } catch (err) {
      this.refused = true;
      const e = err as QuorumError;
      const line = typeof e.details?.line === 'number' ? before + e.details.line : undefined;
      answer = Promise.reject(line === undefined ? err : new QuorumError(e.code, e.message.replace(/^event \d+/, `event ${line}`), { details: { line } }));
    }
    // Handled in turn by the acks chain; until then a rejection must not count as unhandled.
    answer.catch(() => undefined);
    this.inflight++;
    if (this.inflight >= INFLIGHT_BATCHES_MAX) this.req.pause();
    this.acks = this.acks.then(() => answer).then(
      (result) => this.ack(result as { kind: string; [k: string]: unknown }, lines.length),
      (err: Error) => this.fail(err),
    );
  }

  private ack(result: { kind: string; [k: string]: unknown }, count: number): void {
    this.inflight--;
    if (this.inflight < INFLIGHT_BATCHES_MAX) this.req.resume();
    if (this.failed) return;
    if (result.kind !== 'md') return this.fail(new QuorumError(result.kind === 'md_refused' ? 'too_many_instruments' : 'INVARIANT', String(result.message ?? result.kind)));
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
