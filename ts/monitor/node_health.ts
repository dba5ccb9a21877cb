/**
 * The node's health loop: the monitor's window timer (its own lateness is the event-loop
 * signal), the node's hooks feeding the signals and the metrics, and admission for the API.
 * One per node; `close()` stops its timer.
 */
import type { RaftNode } from '../node/raft_node';
import type { RequestClass, ThrottledClass } from './classes';
import { ConcurrencyLimiter } from './limiter';
import { type HealthConfig, HEALTH_DEFAULTS } from './health_config';
import { NodeMetrics } from './metrics';
import { type AnomalyEvent, HealthMonitor, type Signal, type SignalSnapshot } from './monitor';

export { type HealthConfig, HEALTH_DEFAULTS } from './health_config';

const LATENCY_SIGNAL: Record<ThrottledClass, Signal> = { read: 'latency_read', write: 'latency_write', ingest: 'latency_ingest', bulk: 'latency_bulk' };

/** A second listener to what the health loop sees (the dashboard's sampler). Hot path: cheap. */
export interface HealthTap {
  /** A request of class `cls` was answered `status` after `ms` from its arrival. */
  answered(cls: RequestClass, status: number, ms: number): void;
  walSync(ms: number, entries: number): void;
  leaderChanged(): void;
}

export interface MonitorReport {
  node: number;
  windowMs: number;
  windows: number;
  throttle: { enabled: boolean; classes: ReturnType<ConcurrencyLimiter['snapshot']> };
  signals: Record<Signal, SignalSnapshot>;
  events: AnomalyEvent[];
}

export class NodeHealth {
  readonly limiter: ConcurrencyLimiter;
  readonly monitor: HealthMonitor;
  readonly metrics: NodeMetrics | undefined;
  private timer: NodeJS.Timeout | undefined;
  private expectedAtMs = 0;
  /** Set before `start`. */
  tap: HealthTap | undefined;

  constructor(
    private readonly node: RaftNode,
    readonly cfg: HealthConfig = HEALTH_DEFAULTS,
  ) {
    this.limiter = new ConcurrencyLimiter(cfg.limiter);
    this.limiter.enabled = cfg.throttle;
    this.monitor = new HealthMonitor({ windowMs: cfg.windowMs, detector: cfg.detector, tolerance: cfg.tolerance }, this.limiter);
    this.metrics = cfg.metrics ? new NodeMetrics(node, this.monitor, this.limiter) : undefined;
  }

  start(): void {
    const { monitor, metrics, tap } = this;
    this.node.observe({
      walSync: (ms, entries) => {
        monitor.record('wal_sync', ms);
        tap?.walSync(ms, entries);
      },
      readIndex: (ms) => {
        monitor.record('read_index', ms);
        metrics?.readIndex(ms);
      },
      proposalSettled: metrics ? (err) => metrics.proposalSettled(err) : undefined,
      leaderChanged: () => {
        metrics?.leaderChanged();
        tap?.leaderChanged();
      },
      snapshotSent: metrics ? () => metrics.snapshotSent() : undefined,
    });
    this.expectedAtMs = performance.now() + this.cfg.windowMs;
    this.timer = setInterval(() => this.closeWindow(), this.cfg.windowMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  set throttle(on: boolean) {
    this.limiter.enabled = on;
  }

  get throttle(): boolean {
    return this.limiter.enabled;
  }

  /**
   * Admission for a request of class `cls`: undefined when admitted at once, else a promise of
   * whether it was admitted after waiting (false: answer `shedError`). Pair every request with
   * `answered`.
   */
  admit(cls: RequestClass): Promise<boolean> | undefined {
    if (cls === 'control' || this.limiter.tryAcquire(cls)) return undefined;
    return this.limiter.acquire(cls).then((admitted) => {
      if (!admitted) this.metrics?.shed(cls);
      return admitted;
    });
  }

  /** The serialized 429 `throttled` answer for `cls` (built once per limit value). */
  shedAnswer(cls: ThrottledClass): { status: number; text: string; headers: Record<string, string> } {
    const { err, text } = this.limiter.shedAnswer(cls);
    return { status: err.status, text, headers: err.headers };
  }

  /**
   * A request was answered (performance-clock times). If it was admitted (`admittedMs` set) its
   * slot is released and its latency from admission is the class's signal (the controller
   * watches service time, not time spent queued); the metrics see the whole time.
   */
  answered(cls: RequestClass, route: string, status: number, arrivedMs: number, admittedMs: number | undefined): void {
    const now = performance.now();
    if (cls !== 'control' && admittedMs !== undefined) {
      this.limiter.release(cls);
      this.monitor.record(LATENCY_SIGNAL[cls], now - admittedMs);
    }
    this.metrics?.request(route, status, (now - arrivedMs) / 1000);
    this.tap?.answered(cls, status, now - arrivedMs);
  }

  report(): MonitorReport {
    return {
      node: this.node.id,
      windowMs: this.cfg.windowMs,
      windows: this.monitor.windows,
      throttle: { enabled: this.limiter.enabled, classes: this.limiter.snapshot() },
      signals: this.monitor.snapshot(),
      events: [...this.monitor.events],
    };
  }

  private closeWindow(): void {
    const now = performance.now();
    // The timer's own lateness is how long the event loop was blocked this window.
    this.monitor.record('event_loop', Math.max(0, now - this.expectedAtMs));
    this.expectedAtMs = now + this.cfg.windowMs;
    const st = this.node.status();
    this.monitor.record('apply_lag', Math.max(0, st.commitIndex - st.appliedIndex));
    this.monitor.closeWindow(Date.now());
  }
}
