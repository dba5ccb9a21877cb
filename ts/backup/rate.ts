/**
 * The backup's read rate: every byte a backup reads (to hash it, to upload it) passes through
 * one `RateLimit`, so a backup spreads its disk and CPU use over time instead of taking the
 * node's cores from foreground requests (TiKV BR's `--ratelimit`). Slots are handed out in
 * order: a chunk of n bytes waits until the bytes before it have had their time.
 */
import { createReadStream } from 'node:fs';
import { pipeline, type Readable, Transform } from 'node:stream';

export class RateLimit {
  /** When the bytes handed out so far will have had their time (ms, performance.now()). */
  private freeAtMs = 0;

  /** `bytesPerS` ≤ 0: unlimited. */
  constructor(readonly bytesPerS: number) {}

  /** Resolves when `bytes` more may be read. */
  take(bytes: number): Promise<void> {
    if (this.bytesPerS <= 0) return Promise.resolve();
    const now = performance.now();
    const start = Math.max(now, this.freeAtMs);
    this.freeAtMs = start + (bytes * 1000) / this.bytesPerS;
    return start <= now ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, start - now));
  }

  /** The file's bytes, read no faster than the limit. */
  read(path: string): Readable {
    const source = createReadStream(path, { highWaterMark: 256 << 10 });
    if (this.bytesPerS <= 0) return source;
    const pace = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.take(chunk.length).then(() => done(null, chunk), done);
      },
    });
    // pipeline: an error on either side destroys both and is reported once (a consumer that
    // gives up, e.g. a failed upload, must not leave a write-after-destroy error unhandled).
    return pipeline(source, pace, () => undefined);
  }
}

export const UNLIMITED = new RateLimit(0);
