/**
 * The keys written earlier in the batch being applied, which later entries of the same batch
 * must read instead of the engine (a conditional write, a delete, a txn compare after a put).
 *
 * Writes are queued in three arrays — no object and no Map insert per write — and folded into
 * the Map only when a read asks: a batch of plain puts (the common case: a thousand writes an
 * entry) never builds it. Folding in write order keeps the last write of a key.
 */

/** A key's state: its revision and value, or null (absent / deleted). */
export type Current = { revision: number; value: Buffer } | null;

export class Overlay {
  private readonly map = new Map<string, Current>();
  private keys: string[] = [];
  private revisions: number[] = [];
  /** null: a delete. */
  private values: (Buffer | null)[] = [];

  put(key: string, revision: number, value: Buffer): void {
    this.keys.push(key);
    this.revisions.push(revision);
    this.values.push(value);
  }

  delete(key: string): void {
    this.keys.push(key);
    this.revisions.push(0);
    this.values.push(null);
  }

  /** The key as this batch left it (null: deleted), or undefined if the batch did not write it. */
  get(key: string): Current | undefined {
    if (this.keys.length > 0) this.fold();
    return this.map.get(key);
  }

  /** The keys this batch wrote starting with `prefix`, as it left them (null: deleted). */
  withPrefix(prefix: string): Map<string, Current> {
    if (this.keys.length > 0) this.fold();
    const out = new Map<string, Current>();
    for (const [key, current] of this.map) if (key.startsWith(prefix)) out.set(key, current);
    return out;
  }

  private fold(): void {
    for (let i = 0; i < this.keys.length; i++) {
      const value = this.values[i];
      this.map.set(this.keys[i], value === null ? null : { revision: this.revisions[i], value });
    }
    this.keys = [];
    this.revisions = [];
    this.values = [];
  }
}
