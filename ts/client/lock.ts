/**
 * A lock on a key (one active order router of several, a leader among services), built on a
 * key with a TTL: taken by a put only if the key is absent, kept by renewing the TTL every third
 * of it with a put conditional on the revision this holder wrote last, given up by a delete
 * conditional on it. A holder that dies stops renewing, and its key expires. A waiter watches
 * the key and tries again once it is deleted (released or expired).
 *
 * The lock is lost when a renewal finds the key changed (someone else wrote it) or when no
 * renewal was confirmed within the TTL (the key may have expired): `lost` aborts, with the
 * reason. `fencingToken` is the revision that took the lock: it grows from holder to holder, so
 * a resource that remembers the highest token it saw can refuse a late write from an old one.
 */
import { QuorumClientError } from './errors';
import type { WatchEvent, WatchKeys, WatchOptions } from './streams';

export interface LockOptions {
  /** How long the key outlives its holder's last renewal (default 10 s). */
  ttlMs?: number;
  /** The key's value while held (e.g. who holds it). */
  value?: unknown;
  /** Stops waiting for the lock. */
  signal?: AbortSignal;
}

/** What a lock needs of the client. */
export interface LockClient {
  put(key: string, value: unknown, opts: { ifRevision?: number; ttlMs?: number; signal?: AbortSignal }): Promise<{ revision: number }>;
  delete(key: string, opts: { ifRevision?: number }): Promise<{ deleted: boolean; revision: number }>;
  watch(keys: WatchKeys, opts: WatchOptions): AsyncGenerator<WatchEvent>;
}

const TTL_MS_DEFAULT = 10_000;
const SETTLED: Promise<void> = Promise.resolve();

export class Lock {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  /** When the last confirmed renewal was sent (its TTL counts from no earlier). */
  private renewedAtMs: number;
  /** The renewal in flight (`SETTLED`: none). */
  private inflight: Promise<void> = SETTLED;
  private released = false;

  constructor(
    private readonly client: LockClient,
    readonly key: string,
    private readonly value: unknown,
    private readonly ttlMs: number,
    readonly fencingToken: number,
    sentAtMs: number,
  ) {
    this.revision = fencingToken;
    this.renewedAtMs = sentAtMs;
    this.timer = setInterval(() => this.renew(), Math.max(1, Math.floor(ttlMs / 3)));
  }

  /** The revision this holder wrote last (its renewals and release are conditional on it). */
  revision: number;

  /** Aborted once the lock is lost (`reason`: why); never while it is held, nor by `release()`. */
  get lost(): AbortSignal {
    return this.controller.signal;
  }

  /** Gives the lock up: deletes the key if it is still this holder's (after a renewal in flight settles). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    if (this.released) return;
    this.released = true;
    await this.inflight;
    if (this.lost.aborted) return;
    await this.client.delete(this.key, { ifRevision: this.revision }).catch((err: unknown) => {
      if (!(err instanceof QuorumClientError && err.code === 'revision_mismatch')) throw err;
    });
  }

  private renew(): void {
    if (this.inflight !== SETTLED || this.lost.aborted || this.released) return;
    if (Date.now() - this.renewedAtMs >= this.ttlMs) return this.lose('no renewal was confirmed within the TTL: the key may have expired');
    this.inflight = this.renewOnce().finally(() => (this.inflight = SETTLED));
  }

  private async renewOnce(): Promise<void> {
    const sentAtMs = Date.now();
    try {
      const { revision } = await this.client.put(this.key, this.value, { ifRevision: this.revision, ttlMs: this.ttlMs });
      this.revision = revision;
      this.renewedAtMs = sentAtMs;
    } catch (err) {
      if (err instanceof QuorumClientError && err.code === 'revision_mismatch') this.lose(`the key was written by another (now at revision ${String(err.details.revision)})`);
      // Anything else (the cluster unreachable for now): the next renewal tries again, until the TTL runs out.
    }
  }

  private lose(reason: string): void {
    clearInterval(this.timer);
    this.controller.abort(new Error(`lock ${this.key} lost: ${reason}`));
  }
}

/** Takes the lock on `key`, waiting while another holds it. */
export async function acquireLock(client: LockClient, key: string, opts: LockOptions = {}): Promise<Lock> {
  const ttlMs = opts.ttlMs ?? TTL_MS_DEFAULT;
  const value = opts.value ?? null;
  for (;;) {
    opts.signal?.throwIfAborted();
    const sentAtMs = Date.now();
    try {
      const { revision } = await client.put(key, value, { ifRevision: 0, ttlMs, signal: opts.signal });
      return new Lock(client, key, value, ttlMs, revision, sentAtMs);
    } catch (err) {
      if (!(err instanceof QuorumClientError && err.code === 'revision_mismatch')) throw err;
      await deleted(client, key, Number(err.details.revision), opts.signal);
    }
  }
}

/** Resolves once `key` is deleted after `revision` (the holder's write we lost to). */
async function deleted(client: LockClient, key: string, revision: number, signal?: AbortSignal): Promise<void> {
  // Only the key's deletes: a watch of the key as a prefix would carry every write to the keys it begins.
  for await (const ev of client.watch({ key }, { fromRevision: revision + 1, types: ['delete'], signal })) {
    if (ev.key === key && ev.type === 'delete') return;
  }
  signal?.throwIfAborted();
}
