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
  /** Acknowledged within the deadline (the goodput). */
  ok: number;
  /** 429 throttled: shed before anything was proposed. */
  shed: number;
  /** Over the deadline, or a connection error: outcome unknown. */
  late: number;
  /** Any other answer (503 overloaded, ...). */
  failed: number;
  /**
   * Latencies (ms, from the scheduled time) of the acknowledged writes, late ones included, and
   * of the requests still unanswered when the episode ended (their age then: a lower bound).
   */
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

  /**
   * Sends every arrival at its time; resolves when each has an answer or its deadline has
   * passed. No timer per request (at 10K+/s they cost this client more than the sends): an
   * answer after the deadline counts late, and whatever is unanswered at the end is late too.
   */
  async run(times: Float64Array, keyPrefix: string, durationMs: number): Promise<EpisodeLoad> {
    const bins: Bin[] = Array.from({ length: Math.ceil(durationMs / BIN_MS) + 1 }, () => ({ sent: 0, ok: 0, shed: 0, late: 0, failed: 0, latencies: [] }));
    const acked: string[] = [];
    const answered = new Uint8Array(times.length);
    const start = performance.now();
    let next = 0;
    let open = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const now = performance.now() - start;
        while (next < times.length && times[next] <= now) {
          const i = next++;
          const bin = bins[Math.floor(times[i] / BIN_MS)];
          bin.sent++;
          open++;
          this.client.put(`${keyPrefix}-${i}`, '{"value":1}', (status) => {
            answered[i] = 1;
            open--;
            const ms = performance.now() - start - times[i];
            if (status === 200) {
              // Acknowledged, in time or not: its latency counts, and it must read back.
              bin.latencies.push(ms);
              acked.push(`${keyPrefix}-${i}`);
            }
            if (ms > this.deadlineMs) bin.late++;
            else if (status === 200) bin.ok++;
            else if (status === 429) bin.shed++;
            else bin.failed++;
          });
        }
        const last = times.length === 0 ? 0 : times[times.length - 1];
        if (next < times.length) setTimeout(pump, 1);
        else if (open === 0 || now > last + this.deadlineMs) resolve();
        else setTimeout(pump, 10);
      };
      pump();
    });
    // Unanswered at the end: late, and — not refused — their time so far enters the latencies
    // (a lower bound), so an overloaded server's p99 is not computed from its few fast answers.
    const endMs = performance.now() - start;
    for (let i = 0; i < times.length; i++) {
      if (answered[i]) continue;
      const bin = bins[Math.floor(times[i] / BIN_MS)];
      bin.late++;
      bin.latencies.push(endMs - times[i]);
    }
    return { bins, acked };
  }
}
