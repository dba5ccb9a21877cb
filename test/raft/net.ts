/**
 * A synchronous in-memory network for scenario tests (etcd's `newNetwork`): every node persists
 * its Ready at once (storage first, then messages leave), and `stabilize()` delivers messages
 * until the cluster is quiet. Faults are explicit: cut links, isolate nodes, rewrite or drop
 * messages through `filter`, crash (losing nothing persisted) and restart.
 */
import { type Config, type Entry, EntryType, type Message, MemoryStorage, RawNode, type ReadState, StateType, mulberry32 } from '../../ts/raft';
import { coreOf } from '../helpers/core';

export type Filter = (m: Message) => Message[];

export interface LogSpec {
  /** Terms of entries 1..n. */
  terms: number[];
  /** The persisted current term (defaults to the last entry's term). */
  term?: number;
  /** The persisted commit index (default 0). */
  commit?: number;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

export const bytes = (s: string): Uint8Array => utf8.encode(s);
export const str = (b: Uint8Array): string => text.decode(b);

export class Net {
  readonly ids: number[];
  readonly storages = new Map<number, MemoryStorage>();
  readonly nodes = new Map<number, RawNode>();
  /** Entries each node applied, in order (reset on restart: the state machine is rebuilt). */
  readonly applied = new Map<number, Entry[]>();
  readonly readStates = new Map<number, ReadState[]>();
  /** Every message handed to the network, for assertions about what was sent. */
  readonly sent: Message[] = [];
  filter: Filter | undefined;
  private readonly cut = new Set<string>();
  private readonly down = new Set<number>();
  private readonly config: Partial<Config>;

  constructor(ids: number[], config: Partial<Config> = {}, logs: Map<number, LogSpec> = new Map()) {
    this.ids = ids;
    this.config = config;
    for (const id of ids) {
      const storage = MemoryStorage.withVoters(ids);
      const spec = logs.get(id);
      if (spec) {
        storage.append(spec.terms.map((term, i) => ({ index: i + 1, term, type: EntryType.Normal, data: bytes(`t${term}i${i + 1}`) })));
        storage.setHardState({ term: spec.term ?? spec.terms.at(-1) ?? 0, vote: 0, commit: spec.commit ?? 0 });
      }
      this.storages.set(id, storage);
      this.start(id);
    }
  }

  private start(id: number): void {
    const node = new RawNode({
      id,
      storage: this.storages.get(id)!,
      random: mulberry32(id * 7919),
      electionTimeoutTicks: 10,
      heartbeatTimeoutTicks: 1,
      ...this.config,
    });
    this.nodes.set(id, node);
    this.applied.set(id, []);
    this.readStates.set(id, []);
  }

  node(id: number): RawNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`node ${id} is down`);
    return n;
  }

  leader(): number | undefined {
    const leaders = [...this.nodes.values()].filter((n) => coreOf(n).state === StateType.Leader);
    // Stale leaders of old terms may linger in a partition; the one with the highest term leads.
    leaders.sort((a, b) => coreOf(b).term - coreOf(a).term);
    return leaders[0]?.id;
  }

  /** Terms of the node's log entries from index 1 (stable and unstable). */
  logTerms(id: number): number[] {
    const log = coreOf(this.node(id)).log;
    const out: number[] = [];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(i)!);
    return out;
  }

  appliedData(id: number): string[] {
    return this.applied.get(id)!.filter((e) => e.data.length > 0).map((e) => str(e.data));
  }

  isolate(id: number): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
    this.filter = undefined;
  }

  crash(id: number): void {
    this.nodes.delete(id);
    this.down.add(id);
  }

  restart(id: number): void {
    this.down.delete(id);
    this.start(id);
  }

  campaign(id: number): void {
    this.node(id).campaign();
    this.stabilize();
  }

  propose(id: number, ...payloads: string[]): void {
    this.node(id).propose(payloads.map(bytes));
    this.stabilize();
  }

  /** Ticks every live node `n` times, stabilizing after each tick. */
  tick(n = 1, only?: number[]): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!only || only.includes(id)) node.tick();
      this.stabilize();
    }
  }

  /** Drives Ready/advance on every node and delivers messages until nothing moves. */
  stabilize(): void {
    for (let round = 0; ; round++) {
      if (round > 100_000) throw new Error('network did not stabilize');
      const outbox: Message[] = [];
      for (const [id, node] of this.nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          const storage = this.storages.get(id)!;
          if (rd.snapshot) storage.applySnapshot(rd.snapshot);
          storage.append(rd.entries);
          if (rd.hardState) storage.setHardState(rd.hardState);
          this.applied.get(id)!.push(...rd.committedEntries);
          this.readStates.get(id)!.push(...rd.readStates);
          outbox.push(...rd.messages);
          node.advance(rd);
        }
      }
      if (outbox.length === 0) return;
      for (const m of outbox) {
        this.sent.push(m);
        if (this.cut.has(`${m.from}->${m.to}`) || this.down.has(m.to)) continue;
        for (const delivered of this.filter ? this.filter(m) : [m]) this.nodes.get(delivered.to)?.step(delivered);
      }
    }
  }
}
