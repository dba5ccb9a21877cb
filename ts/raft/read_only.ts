/**
 * Batched ReadIndex (etcd's read_only.go, ReadOnlySafe). Every read queued before a heartbeat
 * round is confirmed by that round: the heartbeat carries the newest request's context, and a
 * quorum acknowledging it proves leadership for it and for every request queued before it.
 */
import type { Message } from './types';

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<number>;
}

const key = (ctx: Uint8Array) => Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('base64');

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(readonly pendingMax: number) {}

  size(): number {
    return this.queue.length;
  }

  full(): boolean {
    return this.queue.length >= this.pendingMax;
  }

  /** Queues a request with the commit index at the time it arrived; duplicates are ignored. */
  addRequest(index: number, req: Message): void {
    const ctx = req.entries[0].data;
    const k = key(ctx);
    if (this.pending.has(k)) return;
    this.pending.set(k, { index, req, acks: new Set() });
    this.queue.push(k);
  }

  /** Records a heartbeat ack for `ctx`; returns the acks so far (undefined for unknown ctx). */
  recvAck(id: number, ctx: Uint8Array): Set<number> | undefined {
    const status = this.pending.get(key(ctx));
    if (!status) return undefined;
    status.acks.add(id);
    return status.acks;
  }

  /** Releases the request with `ctx` and every request queued before it. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const k = key(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1).map((q) => {
      const status = this.pending.get(q)!;
      this.pending.delete(q);
      return status;
    });
    this.queue = this.queue.slice(at + 1);
    return released;
  }

  /** Context of the newest queued request (sent on the next heartbeat round). */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])!.req.entries[0].data;
  }

  /** Drops everything (on losing leadership): those reads must be retried. */
  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
