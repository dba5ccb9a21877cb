/**
 * `npm run bench:raft`: how fast the pure core commits, so it is never the node's bottleneck.
 * A 3-node in-process cluster over a zero-delay network, storage in memory: the leader proposes
 * batches of 100-byte entries; each round drives every Ready until the cluster is quiet.
 * Reports committed entries/s per batch size (batch 1 is the in-run baseline) and ReadIndex
 * confirmations/s for batches of reads. Median of 5 trials each.
 */
import { type Message, MemoryStorage, RawNode, mulberry32 } from '../ts/raft';
import { median, printTable, writeResults } from './lib/report';

const ids = [1, 2, 3];
const TRIAL_MS = 1000;
const TRIALS = 5;
const PAYLOAD = new Uint8Array(100).fill(7);

class Cluster {
  readonly storages = ids.map(() => MemoryStorage.withVoters(ids));
  readonly nodes = ids.map(
    (id) => new RawNode({ id, storage: this.storages[id - 1], random: mulberry32(id), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1, inflightMsgsMax: 4096 }),
  );
  applied = 0;
  reads = 0;

  constructor() {
    this.nodes[0].campaign();
    this.settle();
    if (!this.nodes[0].isLeader) throw new Error('node 1 did not become leader');
  }

  /** Persists, sends, applies until quiet (the zero-delay network). */
  settle(): void {
    for (;;) {
      const out: Message[] = [];
      for (let i = 0; i < this.nodes.length; i++) {
        const node = this.nodes[i];
        while (node.hasReady()) {
          const rd = node.ready();
          const s = this.storages[i];
          s.append(rd.entries);
          if (rd.hardState) s.setHardState(rd.hardState);
          for (const m of rd.messages) out.push(m);
          if (i === 0) {
            this.applied += rd.committedEntries.length;
            this.reads += rd.readStates.length;
          }
          node.advance(rd);
        }
      }
      if (out.length === 0) return;
      for (const m of out) this.nodes[m.to - 1].step(m);
    }
  }

  /** Keeps memory bounded: snapshot and compact the applied prefix on every node. */
  compact(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const applied = this.nodes[i].status().applied;
      const s = this.storages[i];
      if (applied - s.firstIndex() < 200_000) continue;
      s.createSnapshot(applied, { voters: ids, learners: [] }, new Uint8Array());
      s.compact(applied);
    }
  }
}

function proposeTrial(batch: number): number {
  const c = new Cluster();
  const payloads = Array.from({ length: batch }, () => PAYLOAD);
  const start = c.applied;
  const t0 = performance.now();
  let rounds = 0;
  while (performance.now() - t0 < TRIAL_MS) {
    c.nodes[0].propose(payloads);
    c.settle();
    if (++rounds % 64 === 0) c.compact();
  }
  return ((c.applied - start) / (performance.now() - t0)) * 1000;
}

function readTrial(batch: number): number {
  const c = new Cluster();
  c.nodes[0].propose([PAYLOAD]);
  c.settle();
  let seq = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < TRIAL_MS) {
    for (let i = 0; i < batch; i++) {
      const ctx = new Uint8Array(8);
      new DataView(ctx.buffer).setFloat64(0, seq++);
      c.nodes[0].readIndex(ctx);
    }
    c.settle();
  }
  return (c.reads / (performance.now() - t0)) * 1000;
}

function trials(f: () => number): { median: number; runs: number[] } {
  f(); // warm-up (JIT)
  const runs = Array.from({ length: TRIALS }, f);
  return { median: median(runs), runs };
}

const proposals = [1, 16, 256, 1024].map((batch) => ({ batch, ...trials(() => proposeTrial(batch)) }));
const reads = [1, 64, 1024].map((batch) => ({ batch, ...trials(() => readTrial(batch)) }));
const base = proposals[0].median;
printTable(
  'Raft core, 3 nodes in process, zero-delay network, 100-byte entries (median of 5 × 1 s)',
  proposals.map((p) => ({ 'proposal batch': p.batch, 'committed entries/s': p.median, 'vs batch 1': `${(p.median / base).toFixed(1)}×` })),
);
printTable(
  'ReadIndex on the leader (one heartbeat round per batch of reads)',
  reads.map((r) => ({ 'reads per round': r.batch, 'confirmed reads/s': r.median, 'vs 1 per round': `${(r.median / reads[0].median).toFixed(1)}×` })),
);
writeResults('raft', { trialMs: TRIAL_MS, trials: TRIALS, entryBytes: PAYLOAD.length, proposals, reads, targetCommittedPerSec: 500_000 });
