/**
 * The health monitor: per-signal samples are gathered over a window (default 100 ms); at each
 * window's close every signal with data feeds its EWMA detector, anomaly episodes are recorded,
 * and the limiter takes one control step. Pure: the caller owns the clock and the timer.
 */
import { type DetectorParams, DETECTOR_DEFAULTS, type DetectorState, EwmaDetector } from './ewma';
import { THROTTLED_CLASSES, type ThrottledClass } from './classes';
import type { ConcurrencyLimiter } from './limiter';

/** Request latency per class, fsync, apply lag, ReadIndex round time, event-loop delay. */
export const SIGNALS = ['latency_read', 'latency_write', 'latency_ingest', 'latency_bulk', 'wal_sync', 'apply_lag', 'read_index', 'event_loop'] as const;
export type Signal = (typeof SIGNALS)[number];

/**
 * The smallest σ each signal is credited with, in its unit (ms; entries for apply_lag): below
 * it a change is noise to an operator (a 0.1 ms move in a 0.3 ms latency, a timer 2 ms late).
 */
export const SIGMA_FLOOR: Record<Signal, number> = {
  latency_read: 0.1,
  latency_write: 0.1,
  latency_ingest: 0.2,
  latency_bulk: 0.5,
  wal_sync: 0.2,
  apply_lag: 16,
  read_index: 0.2,
  event_loop: 2,
};

/**
 * The classes whose requests wait on an fdatasync. While the disk is slow their limits are not
 * cut (fewer writes do not make a stalled disk faster, they only shrink its batches — measured:
 * cutting them lost 36–85% of the goodput of a 20 ms stall without improving its p99) and grow
 * when used; only the classes below them (bulk) are shed, to leave the disk and CPU to writes.
 */
const DISK_BOUND_CLASSES: ReadonlySet<ThrottledClass> = new Set<ThrottledClass>(['write', 'ingest']);

export interface MonitorParams {
  windowMs: number;
  detector: DetectorParams;
  /**
   * How far above its baseline a signal may run before limits come down (Netflix's Gradient
   * limit's tolerance): an anomaly at x ≤ tolerance·μ holds the limits, beyond it they shrink
   * by tolerance·μ/x. A load step from idle is an anomaly, but latency twice the baseline is
   * the price of using the capacity, not a reason to shed it.
   */
  tolerance: number;
}

export const MONITOR_DEFAULTS: MonitorParams = { windowMs: 100, detector: DETECTOR_DEFAULTS, tolerance: 2 };

/** Recent anomaly episodes kept for `GET /v1/monitor`. */
export const EVENTS_MAX = 64;

export interface AnomalyEvent {
  signal: Signal;
  startMs: number;
  endMs: number | null;
  peakZ: number;
}

export interface SignalSnapshot {
  mu: number;
  sigma: number;
  lastValue: number | null;
  residual: number;
  z: number;
  state: DetectorState;
}

class SignalWindow {
  sum = 0;
  count = 0;
  last: number | null = null;
  readonly detector: EwmaDetector;
  open: AnomalyEvent | undefined;

  constructor(params: DetectorParams) {
    this.detector = new EwmaDetector(params);
  }
}

export class HealthMonitor {
  private readonly signals = new Map<Signal, SignalWindow>();
  readonly events: AnomalyEvent[] = [];
  windows = 0;

  constructor(
    readonly params: MonitorParams = MONITOR_DEFAULTS,
    private readonly limiter?: ConcurrencyLimiter,
  ) {
    if (!(params.windowMs >= 1)) throw new Error(`monitor: windowMs must be ≥ 1, got ${params.windowMs}`);
    if (!(params.tolerance >= 1)) throw new Error(`monitor: tolerance must be ≥ 1, got ${params.tolerance}`);
    for (const s of SIGNALS) this.signals.set(s, new SignalWindow({ ...params.detector, sigmaFloor: Math.max(params.detector.sigmaFloor, SIGMA_FLOOR[s]) }));
  }

  /** One sample for the open window (a window's value is its samples' mean). */
  record(signal: Signal, value: number): void {
    const w = this.signals.get(signal) as SignalWindow;
    w.sum += value;
    w.count++;
  }

  /** Closes the window at `nowMs`; returns whether any signal is in an anomaly. */
  closeWindow(nowMs: number): boolean {
    this.windows++;
    let anomalous = false;
    for (const [name, w] of this.signals) {
      if (w.count > 0) this.observe(name, w, nowMs);
      if (w.detector.state === 'anomaly') anomalous = true;
    }
    const diskStalled = (this.signals.get('wal_sync') as SignalWindow).detector.state === 'anomaly';
    this.limiter?.adapt(anomalous, anomalous ? this.controlRatio() : 1, this.latencyBaselines(), this.params.windowMs, diskStalled ? DISK_BOUND_CLASSES : undefined, this.latencyNow());
    return anomalous;
  }

  private observe(name: Signal, w: SignalWindow, nowMs: number): void {
    const x = w.sum / w.count;
    w.last = x;
    w.sum = 0;
    w.count = 0;
    const v = w.detector.observe(x);
    if (v.started) this.openEvent(name, w, nowMs - this.params.windowMs * (w.detector.params.confirmWindows - 1), v.z);
    if (w.open && v.z > w.open.peakZ) w.open.peakZ = v.z;
    if (v.ended && w.open) {
      w.open.endMs = nowMs;
      w.open = undefined;
    }
  }

  /**
   * The baseline request latency (ms) of each class whose own latency is anomalous: its limit
   * keeps the bandwidth-delay-product floor (its rate must not spiral down with its latency). A
   * class cut on behalf of others (bulk giving way to writes) gets no floor but the minimum.
   */
  private latencyBaselines(): Partial<Record<ThrottledClass, number>> {
    const out: Partial<Record<ThrottledClass, number>> = {};
    for (const c of THROTTLED_CLASSES) {
      const d = (this.signals.get(`latency_${c}`) as SignalWindow).detector;
      if (d.state === 'anomaly') out[c] = d.mu;
    }
    return out;
  }

  /** Each class's request latency in the window just closed (ms), where it had requests. */
  private latencyNow(): Partial<Record<ThrottledClass, number>> {
    const out: Partial<Record<ThrottledClass, number>> = {};
    for (const c of THROTTLED_CLASSES) {
      const w = this.signals.get(`latency_${c}`) as SignalWindow;
      if (w.last !== null) out[c] = w.last;
    }
    return out;
  }

  /**
   * tolerance·baseline/current of the worst anomalous signal: how far limits should come down
   * (≥ 1: hold them). The disk's own fsync time is not a driver (it is the cause the limiter
   * cannot act on); the request latencies it inflates are, but while the disk is anomalous only
   * the classes below the disk-bound ones may shrink (see `closeWindow`). A baseline counts as
   * at least k σ-floors, so a signal idling at 0 (apply lag, timer lateness) does not read as
   * infinitely far off.
   */
  private controlRatio(): number {
    let ratio = Number.POSITIVE_INFINITY;
    for (const [name, w] of this.signals) {
      if (name === 'wal_sync' || w.detector.state !== 'anomaly' || w.last === null || w.last <= 0) continue;
      const d = w.detector;
      const base = Math.max(d.mu, d.params.k * d.params.sigmaFloor);
      ratio = Math.min(ratio, (this.params.tolerance * base) / w.last);
    }
    return ratio;
  }

  snapshot(): Record<Signal, SignalSnapshot> {
    const out = {} as Record<Signal, SignalSnapshot>;
    for (const [name, w] of this.signals) {
      const d = w.detector;
      out[name] = { mu: d.mu, sigma: d.sigma, lastValue: w.last, residual: d.lastResidual, z: d.lastZ, state: d.state };
    }
    return out;
  }

  private openEvent(signal: Signal, w: SignalWindow, startMs: number, z: number): void {
    w.open = { signal, startMs, endMs: null, peakZ: z };
    this.events.push(w.open);
    if (this.events.length > EVENTS_MAX) this.events.shift();
  }
}
