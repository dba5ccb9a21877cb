/**
 * Open-loop write load: arrivals are scheduled in advance (Poisson, seeded) and each request's
 * latency is measured from its scheduled send time, so a stalled server cannot hide its queue
 * behind a client that waits (coordinated omission). Every request has a deadline; results are
 * binned per 100 ms of the episode, and every acknowledged write is kept for the read-back.
 */
import { mulberry32 } from '../../ts/raft/random';
import { PipelinedClient } from './pipelined_client';

export const BIN_MS = 100;

/** A piece of the arrival schedule: `rate` writes/s from `fromMs` to `toMs` (episode time). */
export interface Segment {
  fromMs: number;
  toMs: number;
  rate: number;
}

export interface Bin {
  sent: number;
  ok: number;
  /** 429 throttled: shed before anything was proposed. */
  shed: number;
  /** Over the deadline, or a connection error: outcome unknown. */
  late: number;
  /** Any other answer (503 overloaded, ...). */
  failed: number;
  /** Latencies (ms, from the scheduled time) of the acknowledged writes. */
  latencies: number[];
}

export interface EpisodeLoad {
  bins: Bin[];
  /** Keys of every acknowledged write (each write has its own key). */
  acked: string[];
}

/** Arrival times (ms from the episode start) for the segments, from one seed. */
export function arrivals(segments: readonly Segment[], seed: number): Float64Array {
  const rnd = mulberry32(seed);
  const out: number[] = [];
  for (const s of segments) {
    let t = s.fromMs;
    for (;;) {
      t += (-Math.log(1 - rnd.next()) * 1000) / s.rate;
      if (t >= s.toMs) break;
      out.push(t);
    }
  }
  return Float64Array.from(out);
}

export class OpenLoop {
  private constructor(
    private readonly client: PipelinedClient,
    private readonly deadlineMs: number,
  ) {}

  static async open(host: string, port: number, deadlineMs: number, connections: number): Promise<OpenLoop> {
    return new OpenLoop(await PipelinedClient.open(host, port, connections), deadlineMs);
  }

  close(): void {
    this.client.close();
  }

  /** Sends every arrival at its time; resolves when all have an outcome. */
  async run(times: Float64Array, keyPrefix: string, durationMs: number): Promise<EpisodeLoad> {
    const bins: Bin[] = Array.from({ length: Math.ceil(durationMs / BIN_MS) + 1 }, () => ({ sent: 0, ok: 0, shed: 0, late: 0, failed: 0, latencies: [] }));
    const acked: string[] = [];
    const start = performance.now();
    let next = 0;
    let open = 0;
    await new Promise<void>((resolve) => {
      const finish = () => {
        if (--open === 0 && next === times.length) resolve();
      };
      const pump = () => {
        const now = performance.now() - start;
        while (next < times.length && times[next] <= now) {
          const at = times[next];
          const key = `${keyPrefix}-${next++}`;
          open++;
          this.send(key, start + at, bins[Math.floor(at / BIN_MS)], acked, finish);
        }
        if (next < times.length) setTimeout(pump, 1);
        else if (open === 0) resolve();
      };
      pump();
    });
    return { bins, acked };
  }

  private send(key: string, scheduledAt: number, bin: Bin, acked: string[], done: () => void): void {
    bin.sent++;
    let settled = false;
    const settle = (outcome: 'ok' | 'shed' | 'late' | 'failed') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome === 'ok') {
        bin.ok++;
        bin.latencies.push(performance.now() - scheduledAt);
        acked.push(key);
      } else bin[outcome]++;
      done();
    };
    // The deadline counts from the scheduled time: time queued in this client counts too. A late
    // request is counted late at once; its answer is still read off the connection later.
    const timer = setTimeout(() => settle('late'), Math.max(0, scheduledAt + this.deadlineMs - performance.now()));
    this.client.put(key, '{"value":1}', (status) => settle(status === 200 ? 'ok' : status === 429 ? 'shed' : 'failed'));
  }
}
