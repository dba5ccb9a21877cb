/**
 * The bounded window of MsgApp sent to one follower but not yet acknowledged (etcd's Inflights).
 * Full when it holds `sizeMax` messages or `bytesMax` bytes; the leader then pauses that follower.
 */
export class Inflights {
  /** Last entry index of each in-flight message, oldest first. */
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(readonly sizeMax: number, readonly bytesMax: number) {}

  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a full inflights');
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.indexes.length && this.indexes[n] <= to) {
      this.bytes -= this.sizes[n];
      n++;
    }
    if (n > 0) {
      this.indexes.splice(0, n);
      this.sizes.splice(0, n);
    }
  }

  full(): boolean {
    return this.indexes.length >= this.sizeMax || (this.bytesMax > 0 && this.bytes >= this.bytesMax);
  }

  count(): number {
    return this.indexes.length;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}
