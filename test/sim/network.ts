/**
 * The simulated network: every message gets a delivery tick drawn from the seeded PRNG, so
 * delays reorder messages; it may also be dropped or duplicated. Links can be cut one way
 * (asymmetric partitions) or both ways. Ticks are the only clock.
 */
import { type Message, MessageType, type Random } from '../../ts/raft';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Extra delay drawn uniformly from [0, delayTicksMax]; the base latency is 1 tick. */
  delayTicksMax: number;
}

export const RELIABLE: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayTicksMax: 0 };

interface InFlight {
  deliverAt: number;
  seq: number;
  m: Message;
}

export class SimNetwork {
  faults: NetworkFaults = RELIABLE;
  private readonly cut = new Set<string>();
  private queue: InFlight[] = [];
  private seq = 0;
  sent = 0;
  delivered = 0;
  dropped = 0;
  /** Messages in flight at most; beyond it the network drops (a named bound, like a socket buffer). */
  readonly inFlightMax = 100_000;

  constructor(private readonly random: Random) {}

  /**
   * How each snapshot message ended (delivered or lost), as a real transport reports it to the
   * sender's core (`reportSnapshot`). The simulation drains this every tick.
   */
  snapshotReports: { from: number; to: number; ok: boolean }[] = [];

  send(m: Message, now: number): void {
    this.sent++;
    if (this.cut.has(link(m.from, m.to)) || this.random.next() < this.faults.dropRate || this.queue.length >= this.inFlightMax) {
      this.dropped++;
      if (m.type === MessageType.Snap) this.snapshotReports.push({ from: m.from, to: m.to, ok: false });
      return;
    }
    const copies = this.random.next() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const deliverAt = now + 1 + this.random.intn(this.faults.delayTicksMax + 1);
      // Each copy is its own object: a receiver must not see another's mutations.
      this.queue.push({ deliverAt, seq: this.seq++, m: i === 0 ? m : structuredClone(m) });
    }
  }

  /** Messages due at `now`, in delivery-time order (ties by send order). */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.queue) (f.deliverAt <= now ? ready : later).push(f);
    this.queue = later;
    ready.sort((a, b) => a.deliverAt - b.deliverAt || a.seq - b.seq);
    // A partition that appeared while a message was in flight still stops it.
    const out: Message[] = [];
    for (const f of ready) {
      const ok = !this.cut.has(link(f.m.from, f.m.to));
      if (ok) out.push(f.m);
      if (f.m.type === MessageType.Snap) this.snapshotReports.push({ from: f.m.from, to: f.m.to, ok });
    }
    this.dropped += ready.length - out.length;
    this.delivered += out.length;
    return out;
  }

  pending(): number {
    return this.queue.length;
  }

  cutLink(from: number, to: number): void {
    this.cut.add(link(from, to));
  }

  isolate(id: number, ids: number[]): void {
    for (const other of ids) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  /** Two sides that cannot talk to each other (both directions). */
  split(a: number[], b: number[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y);
        this.cutLink(y, x);
      }
    }
  }

  partitioned(): boolean {
    return this.cut.size > 0;
  }

  heal(): void {
    this.cut.clear();
  }
}

const link = (from: number, to: number) => `${from}->${to}`;
