/**
 * Single-key writes (`PUT` and `DELETE /v1/kv/{key}`) of one event-loop turn, proposed as one log
 * entry (an `Op.Batch`) instead of one entry each: each entry cost every node its own encoding,
 * decode, apply, log bookkeeping and WAL record. Under 64 wrk connections (probe, 2 alternating
 * pairs of runs) entries per write fell 25× and the cluster's CPU per write from 176–178 µs to
 * 124–144 (8.0K → 9.6–11.1K writes/s). Each write keeps its own answer — a conflict,
 * refusal or replay of its idempotency key is its own — and its own fingerprint (a single write
 * and a batch item of it print alike, ts/node/fingerprint.ts), so a retry is recognised whichever
 * way either was proposed.
 *
 * Invariant: an entry never holds two writes of one key, nor two writes under one idempotency
 * key. Writes of one entry share its index as their revision, so a key's revision still names
 * exactly one of its values (a client that CASes on the revision its write returned compares
 * against its own value), and a retry within the turn is answered from the first.
 *
 * A turn's lone write is proposed on its own, as before. A failure of the proposal (not admitted,
 * not confirmed in time, leadership lost) is every write's of that entry: none or all applied.
 *
 * Limits: `BATCH_OPS_MAX` writes and `ENTRY_BYTES_MAX` of values per entry (a turn's writes past
 * either go in further entries); the writes waiting are those of one turn, bounded by the
 * requests the node admits.
 */
import { setImmediate } from 'node:timers';
import type { ApplyResult } from '../node/applier';
import { type BatchItem, Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { BATCH_OPS_MAX } from './batch';
import { unexpected } from './kv';

/** Values per entry, bytes (a 1 MiB value still goes, alone). */
export const ENTRY_BYTES_MAX = 1 << 20;

interface Waiting {
  item: BatchItem;
  /** The proposer's clock of a keyed write (the idempotency table's time) or of a put with a TTL. */
  atMs: number | undefined;
  resolve: (result: ApplyResult) => void;
  reject: (err: unknown) => void;
}

const byNode = new WeakMap<RaftNode, KeyWrites>();

export class KeyWrites {
  private queue: Waiting[] = [];
  private scheduled = false;

  private constructor(private readonly node: RaftNode) {}

  /** The node's coalescer (one per node). */
  static of(node: RaftNode): KeyWrites {
    let writes = byNode.get(node);
    if (!writes) byNode.set(node, (writes = new KeyWrites(node)));
    return writes;
  }

  /** Proposes `item` with this turn's other writes; resolves with its own result once applied. */
  write(item: BatchItem, atMs: number | undefined): Promise<ApplyResult> {
    // Refused alone, not with the other writes of its entry (a batch is refused whole).
    const noSpace = this.node.space.refusal(item);
    if (noSpace) return Promise.reject(noSpace);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, atMs, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** The turn is over: its writes leave in as few entries as the invariant and limits allow. */
  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    let entry: Waiting[] = [];
    const keys = new Set<string>();
    const idems = new Set<string>();
    let bytes = 0;
    const cut = () => {
      if (entry.length > 0) this.propose(entry);
      entry = [];
      keys.clear();
      idems.clear();
      bytes = 0;
    };
    for (const w of all) {
      const size = w.item.value?.length ?? 0;
      const clash = keys.has(w.item.key) || (w.item.idem !== undefined && idems.has(w.item.idem));
      if (clash || entry.length >= BATCH_OPS_MAX || bytes + size > ENTRY_BYTES_MAX) cut();
      entry.push(w);
      keys.add(w.item.key);
      if (w.item.idem !== undefined) idems.add(w.item.idem);
      bytes += size;
    }
    cut();
  }

  private propose(entry: Waiting[]): void {
    if (entry.length === 1) {
      const [{ item, atMs, resolve, reject }] = entry;
      this.node.propose({ op: item.op, key: item.key, value: item.value, ifRevision: item.ifRevision, idem: item.idem, atMs, ttlMs: item.ttlMs }).then(resolve, reject);
      return;
    }
    const atMs = entry.some((w) => w.atMs !== undefined) ? Date.now() : undefined;
    this.node.propose({ op: Op.Batch, key: '', items: entry.map((w) => w.item), atMs }).then(
      (result) => {
        if (result.kind !== 'batch' || result.results.length !== entry.length) {
          const err = unexpected(result.kind);
          for (const w of entry) w.reject(err);
          return;
        }
        entry.forEach((w, i) => w.resolve(result.results[i]));
      },
      (err: unknown) => {
        for (const w of entry) w.reject(err);
      },
    );
  }
}
