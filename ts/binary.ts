/**
 * The one little-endian binary reader/writer behind every codec (peer frames, commands,
 * membership changes). Integers are unsigned; u64 values must be safe JS integers (< 2^53).
 * Every read is checked against the end of the buffer, so a truncated or malformed input is the
 * caller's error (made by `fail`), never an out-of-bounds read.
 */
const TWO_32 = 2 ** 32;

export class BinaryWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16LE(v, this.at);
    this.at += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }

  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cannot encode ${v} as u64`);
    this.room(8);
    this.buf.writeUInt32LE(v % TWO_32, this.at);
    this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.at + 4);
    this.at += 8;
  }

  /** u32 length + bytes. */
  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.raw(data);
  }

  raw(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.at);
    this.at += data.length;
  }

  /** u32 length + UTF-8. */
  str(v: string): void {
    this.bytes(Buffer.from(v, 'utf8'));
  }

  /** u16 length + UTF-8. */
  str16(v: string): void {
    const b = Buffer.from(v, 'utf8');
    if (b.length > 0xffff) throw new RangeError(`string of ${b.length} bytes does not fit a u16 length`);
    this.u16(b.length);
    this.raw(b);
  }

  /** Overwrites a u32 written earlier (e.g. a length prefix). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }

  /** The bytes written (a view, not a copy). */
  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

export class BinaryReader {
  private readonly buf: Buffer;
  at = 0;

  constructor(
    data: Uint8Array,
    /** Makes the error thrown for malformed input (`what` names the field). */
    private readonly fail: (what: string) => Error,
  ) {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get left(): number {
    return this.buf.length - this.at;
  }

  /** The bytes read since offset `from` (a view, not a copy). */
  span(from: number): Buffer {
    return this.buf.subarray(from, this.at);
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw this.fail(`input ends inside ${what} at byte ${this.at}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const lo = this.buf.readUInt32LE(this.at);
    const hi = this.buf.readUInt32LE(this.at + 4);
    if (hi >= 2 ** 21) throw this.fail(`${what} exceeds 2^53`);
    this.at += 8;
    return hi * TWO_32 + lo;
  }

  /** u32 length + bytes, as a zero-copy view. */
  bytes(what: string): Buffer {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  str(what: string): string {
    return this.bytes(what).toString('utf8');
  }

  str16(what: string): string {
    const n = this.u16(`${what} length`);
    this.need(n, what);
    const out = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** A count of items each at least `minBytes` long, checked against what is left. */
  count(what: string, minBytes: number): number {
    const n = this.u32(what);
    if (n * minBytes > this.left) throw this.fail(`${what} ${n} cannot fit in the input`);
    return n;
  }

  /** Every byte not read yet (a view), which the reader then counts as read. */
  rest(): Buffer {
    const out = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return out;
  }

  /** Fails unless every byte was read. */
  end(): void {
    if (this.at !== this.buf.length) throw this.fail(`${this.buf.length - this.at} bytes after the end`);
  }
}
