/**
 * Splits a byte stream into frames (`len u32 | body`). Bounded: a frame longer than
 * `frameBytesMax` is a protocol error (the connection is dropped), so a bad or hostile peer
 * cannot make us buffer without limit.
 */
import { CodecError, FRAME_HEADER_BYTES } from './codec';

export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly frameBytesMax: number) {}

  /** Feeds bytes; returns the complete frame bodies they finish. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32LE(0);
      if (len > this.frameBytesMax) throw new CodecError(`frame of ${len} bytes exceeds frameBytesMax ${this.frameBytesMax}`);
      if (this.buffered < FRAME_HEADER_BYTES + len) break;
      const whole = this.take(FRAME_HEADER_BYTES + len);
      frames.push(whole.subarray(FRAME_HEADER_BYTES));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
