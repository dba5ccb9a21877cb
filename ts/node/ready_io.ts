/**
 * A Ready's I/O in Raft's order, with its WAL write pipelined (the core's `accept`, later its
 * `persisted`): the write is issued and the next Ready may be taken at once, so a slow fsync
 * delays only what depends on it — never the leader's next appends, a follower's next write or
 * the apply of what is already durable. The WAL's group commit takes several in one fsync.
 *
 *   1. snapshots stream; a leader's appends and heartbeats leave (in parallel with its write)
 *   2. confirmed reads are released (they wait for their index's apply, not a write)
 *   3. committed entries go to the applier (durable here already: the core never hands out past
 *      the stable tail)
 *   4. the write is issued; core.accept(r)
 *   5. once that write and every earlier one are durable, in the order taken: core.persisted(r),
 *      every other message leaves (votes, acks), the soft state is reported
 *
 * A Ready with a snapshot (it replaces the log) or a membership change (it changes the core's
 * configuration) waits for every write in flight and is handled the classic way: written, then
 * its messages, then `advance`.
 */
import type { RawNode } from '../raft/rawnode';
import { sendableBeforePersist } from '../raft/rawnode';
import { type Entry, EntryType, type HardState, type Message, MessageType, type Ready, type StateType } from '../raft/types';
import type { PeerTransport } from '../transport/peer';
import type { NodeObserver } from './observer';
import { PersistPipeline } from './persist_pipeline';
import type { WalStorage } from './raft_storage';
import type { ReadRounds } from './read_rounds';
import type { SnapshotLifecycle } from './snapshot_lifecycle';

export interface ReadyHost {
  readonly raw: RawNode;
  readonly storage: WalStorage;
  readonly transport: Pick<PeerTransport, 'send'>;
  readonly reads: Pick<ReadRounds, 'release'>;
  readonly snapshots: Pick<SnapshotLifecycle, 'stream' | 'install'>;
  observer(): NodeObserver;
  /** Committed entries to the applier (and membership changes to the core). */
  handOut(committed: Entry[]): void;
  onSoftState(lead: number, state: StateType): void;
  /** The node failed: nothing more is done for it. */
  halted(): boolean;
  fail(err: Error): void;
  /** Runs the Ready loop again (a durable write may let the core commit or send more). */
  schedule(): void;
}

export class ReadyIo {
  private readonly writes: PersistPipeline;
  /** The newest commit-index-only hard state taken and not yet written (see `handle`). */
  private unwrittenHardState: HardState | undefined;

  constructor(
    private readonly host: ReadyHost,
    writesInFlightMax: number,
  ) {
    this.writes = new PersistPipeline(writesInFlightMax, (err) => host.fail(err));
  }

  /** No room for another write: wait for `room()` before taking the next Ready. */
  get full(): boolean {
    return this.writes.full;
  }

  room(): Promise<void> {
    return this.writes.room();
  }

  /** Every write issued so far is durable and followed up. */
  drained(): Promise<void> {
    return this.writes.drained();
  }

  /** At close, once drained: the commit index as of now (commit-only changes are not written). */
  async writeCommit(): Promise<void> {
    const { raw, storage } = this.host;
    const st = raw.status();
    // Never past what the WAL holds: entries the loop had not taken yet are not on disk.
    const commit = Math.min(st.commit, storage.lastIndex());
    if (commit > storage.initialState().hardState.commit) await storage.persist([], { term: st.term, vote: st.vote, commit });
  }

  /** Does `rd`'s I/O; returns a promise only when it must be awaited before the next Ready. */
  handle(rd: Ready): Promise<void> | undefined {
    const h = this.host;
    for (const m of rd.messages) if (m.type === MessageType.Snap) h.snapshots.stream(m);
    const messages = rd.messages.filter((m) => m.type !== MessageType.Snap);
    if (rd.snapshot || rd.committedEntries.some((e) => e.type === EntryType.ConfChange)) return this.handleInOrder(rd, messages);
    h.transport.send(messages.filter(sendableBeforePersist));
    h.reads.release(rd.readStates);
    h.handOut(rd.committedEntries);
    h.raw.accept(rd);
    const synced = rd.entries.length > 0 || rd.mustSync;
    const started = performance.now();
    // A commit-index-only change is not written on its own: Raft's commit index is volatile
    // state. The next write carries it (a Ready has a hard state only when it changed since the
    // last one taken, so it is kept until then) and close() writes the last one; after a crash
    // the node re-learns it (the applier skips what the engine holds). Written on its own, it
    // would hold the WAL in an fsync that the next real write has to wait out.
    let write = Promise.resolve();
    if (synced) {
      write = h.storage.persist(rd.entries, this.hardStateToWrite(rd));
    } else if (rd.hardState) {
      this.unwrittenHardState = rd.hardState;
    }
    this.writes.push(write, synced, () => this.onDurable(rd, messages, synced ? performance.now() - started : undefined));
    return undefined;
  }

  /** The hard state a write of `rd` carries: its own, or the commit-only one not written yet. */
  private hardStateToWrite(rd: Ready): HardState | undefined {
    const hs = rd.hardState ?? this.unwrittenHardState;
    this.unwrittenHardState = undefined;
    return hs;
  }

  /** `rd`'s write and every earlier one are durable: what depended on them may leave. */
  private onDurable(rd: Ready, messages: Message[], syncMs: number | undefined): void {
    const h = this.host;
    if (h.halted()) return;
    if (syncMs !== undefined) h.observer().walSync?.(syncMs, rd.entries.length);
    h.raw.persisted(rd);
    h.transport.send(messages.filter((m) => !sendableBeforePersist(m)));
    if (rd.softState) h.onSoftState(rd.softState.lead, rd.softState.state);
    h.schedule();
  }

  private async handleInOrder(rd: Ready, messages: Message[]): Promise<void> {
    const h = this.host;
    await this.writes.drained();
    if (h.halted()) return;
    if (rd.snapshot) await h.snapshots.install(rd.snapshot);
    h.transport.send(messages.filter(sendableBeforePersist));
    h.reads.release(rd.readStates);
    const started = performance.now();
    await h.storage.persist(rd.entries, this.hardStateToWrite(rd));
    if (rd.entries.length > 0 || rd.mustSync) h.observer().walSync?.(performance.now() - started, rd.entries.length);
    h.transport.send(messages.filter((m) => !sendableBeforePersist(m)));
    h.handOut(rd.committedEntries);
    h.raw.advance(rd);
    if (rd.softState) h.onSoftState(rd.softState.lead, rd.softState.state);
  }
}
