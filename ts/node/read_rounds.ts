/**
 * Linearizable reads through the core's ReadIndex (the Raft dissertation's §6.4): the reads
 * queued in one event-loop turn share one request (one heartbeat round); a confirmed round's
 * reads are served once the applier reaches the round's index.
 *
 * The read path does not wait for the Ready loop: while a Ready is being persisted, `expedite`
 * sends this turn's round, the followers' answers to heartbeats and forwarded ReadIndex requests
 * and answers at once, and releases confirmed rounds (`RawNode.takeUrgent` says which output
 * may leave early). Without it a read under write load waited for up to one fsync on the leader
 * before its round left, and for one on a follower before that follower answered.
 */
import type { Applier } from './applier';
import type { ReadWaiter, RequestWaiters } from './waiters';
import { UnavailableError } from '../errors';
import { ProposalDroppedError, type RawNode } from '../raft/rawnode';
import type { Message, ReadState } from '../raft/types';

/**
 * A follower's ReadIndex request (or the leader's answer) is lost while a peer connection is
 * down (the transport drops, Raft-style); the core never asks again, so a round unanswered this
 * long is asked again with the same context (etcd re-sends after 500 ms too). Without it such a
 * read waited out its whole deadline (seen once in CI: a 504 after 5 s on a just-started
 * follower's first read).
 * A leader's own rounds need none: its heartbeats carry the newest pending context.
 */
export const READ_RETRY_MS = 500;

/** Keys served per turn when a confirmed round is released (a slice holds at least one read). */
export const READ_SLICE_KEYS = 256;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ReadRounds {
  private seq = 0;
  /** Rounds asked again since start (`retry`). */
  retries = 0;

  constructor(
    private readonly id: number,
    private readonly raw: RawNode,
    private readonly waiters: RequestWaiters,
    private readonly applier: Applier,
    private readonly send: (messages: Message[]) => void,
  ) {}

  /** One ReadIndex request (one heartbeat round) for every read queued this turn. */
  flush(): void {
    if (!this.waiters.hasQueuedReads) return;
    const reads = this.waiters.takeQueuedReads();
    const ctx = `${this.id}:${++this.seq}`;
    try {
      this.raw.readIndex(encoder.encode(ctx));
      this.waiters.readsSent(ctx, reads, { lead: this.raw.lead, term: this.raw.term });
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.waiters.settleReads(reads, new UnavailableError('no leader to confirm the read; retry'));
    }
  }

  /** Asks again for this follower's rounds unanswered for `READ_RETRY_MS` (called every tick). */
  retry(nowMs = performance.now()): void {
    if (this.raw.isLeader) return;
    for (const ctx of this.waiters.unansweredRounds(nowMs, READ_RETRY_MS)) {
      this.retries++;
      try {
        this.raw.readIndex(encoder.encode(ctx));
      } catch (err) {
        // No leader known right now: asked again after another interval, within the deadline.
        if (!(err instanceof ProposalDroppedError)) throw err;
      }
    }
  }

  /** Between Readies: this turn's round and the read path's messages leave now. */
  expedite(): void {
    this.flush();
    const urgent = this.raw.takeUrgent();
    this.send(urgent.messages);
    this.release(urgent.readStates);
  }

  /** Confirmed rounds: their reads are served once the applier reaches their index. */
  release(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const reads = this.waiters.confirmReads(decoder.decode(rs.requestCtx));
      if (!reads) continue;
      this.applier.waitFor(rs.index).then(
        () => this.serve(reads),
        // The engine failed (the node is stopping): the read was not served; retry elsewhere.
        (err: Error) => this.waiters.settleReads(reads, new UnavailableError(`the state machine failed (${(err as { code?: string }).code ?? 'error'}); retry on another node`)),
      );
    }
  }

  /** Serves `reads` one slice per turn. */
  private serve(reads: readonly ReadWaiter[]): void {
    inSlices(reads, READ_SLICE_KEYS, (slice) => this.waiters.settleReads(slice));
  }
}

/**
 * Hands `items` to `each` in order, in slices of at most `keysMax` keys (a slice holds at least
 * one item, however many keys it has): the first slice now, each next one `defer`red (a turn).
 */
export function inSlices<T extends { keys: number }>(items: readonly T[], keysMax: number, each: (slice: T[]) => void, defer: (next: () => void) => void = setImmediate): void {
  let from = 0;
  const slice = (): void => {
    let to = from + 1;
    for (let keys = items[from].keys; to < items.length && keys + items[to].keys <= keysMax; to++) keys += items[to].keys;
    each(items.slice(from, to));
    from = to;
    if (from < items.length) defer(slice);
  };
  if (items.length > 0) slice();
}
