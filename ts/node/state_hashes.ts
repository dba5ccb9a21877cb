/**
 * Digests of the state at `Op.Hash` entries: an operator's check that every member holds the
 * same state (etcd's HashKV), for what replication cannot show — a bug that applied an entry
 * differently on one member, or a disk that changed data under it. The applier ends a write
 * batch at such an entry and, in the turn it publishes it, takes the engine's view of exactly
 * that state; the digest (SHA-256 over the applied index, every key and value) is computed off
 * the event loop while applies go on. Members apply the same entries, so equal states give equal
 * digests whatever their files.
 *
 * Limit: the newest `HASHES_KEPT` digests; one not kept (older, or from before a restart or a
 * snapshot install) is not known here.
 */
import type { Engine } from '../native';
import { invariant } from '../raft/assert';

export const HASHES_KEPT = 16;

export class StateHashes {
  /** Entry index → its digest (hex), in the order taken. */
  private readonly byIndex = new Map<number, Promise<string>>();

  /**
   * Digests `engine`'s state, which is as of `index` now (the caller's turn). A rejection (the
   * engine failing, or a digest of another index) is the caller's to handle; asked for, the
   * digest answers it too.
   */
  take(index: number, engine: Engine): Promise<string> {
    const digest = engine.digestNow().then((d) => {
      invariant(d.index === index, () => `a state digest for entry ${index} was taken at ${d.index}`);
      return d.sha256;
    });
    this.byIndex.set(index, digest);
    if (this.byIndex.size > HASHES_KEPT) this.byIndex.delete(this.byIndex.keys().next().value!);
    return digest;
  }

  /** The digest of the state as of entry `index`, if taken here and kept. */
  at(index: number): Promise<string> | undefined {
    return this.byIndex.get(index);
  }
}
