/**
 * Admission by concurrency limit per request class (Netflix concurrency-limits' AIMD limit,
 * driven by the health monitor instead of per-request drops). A request over its class's limit
 * waits in a bounded FIFO for at most `queueWaitMs`, then is shed with 429 `throttled` —
 * always before anything is proposed, so a shed request is known not applied.
 *
 * Invariants: 0 ≤ inflight; a class's queue holds at most `queueMax` waiters; a waiter is
 * admitted only while inflight < limit; minLimit ≤ limit ≤ maxLimit.
 */
import { QuorumError } from '../errors';
import { SHED_ORDER, THROTTLED_CLASSES, type ThrottledClass } from './classes';

export interface LimiterParams {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** Waiters per class before new arrivals are shed at once. */
  queueMax: number;
  /** Longest a request waits for a slot before it is shed. */
  queueWaitMs: number;
  /**
   * Multiplicative decrease on an anomalous window: the limit is scaled by baseline/current of
   * the worst signal (a gradient, as in Netflix's Gradient limit), clamped to
   * [decreaseMin, decreaseMax] — fast when far above normal, gentle near it.
   */
  decreaseMin: number;
  decreaseMax: number;
  /** Additive increase per calm window in which the class used at least half its limit. */
  increase: number;
}

export const LIMITER_DEFAULTS: LimiterParams = {
  // Calm, a node admits up to the largest limit: limits only come down on an anomaly.
  initialLimit: 1024,
  minLimit: 8,
  maxLimit: 1024,
  queueMax: 1024,
  queueWaitMs: 25,
  decreaseMin: 0.5,
  decreaseMax: 0.9,
  increase: 4,
};

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class ClassState {
  limit: number;
  inflight = 0;
  /** Peak inflight in the current window (the controller grows only used limits). */
  peak = 0;
  admitted = 0;
  shed = 0;
  shedTotal = 0;
  readonly queue: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }
}

export interface ClassSnapshot {
  limit: number;
  inflight: number;
  queued: number;
  shedTotal: number;
}

export class ConcurrencyLimiter {
  private readonly classes = new Map<ThrottledClass, ClassState>();
  /** Off: every request is admitted at once (limits still adapt, so switching on is instant). */
  enabled = true;

  constructor(readonly params: LimiterParams = LIMITER_DEFAULTS) {
    checkParams(params);
    for (const c of THROTTLED_CLASSES) this.classes.set(c, new ClassState(params.initialLimit));
  }

  /** Takes a slot at once if one is free (the hot path: no promise). */
  tryAcquire(cls: ThrottledClass): boolean {
    const s = this.state(cls);
    if (this.enabled && (s.inflight >= s.limit || s.queue.length > 0)) return false;
    this.take(s);
    return true;
  }

  /** Waits for a slot; rejects with 429 `throttled` when the queue is full or the wait ends. */
  acquire(cls: ThrottledClass): Promise<void> {
    const s = this.state(cls);
    if (s.queue.length >= this.params.queueMax) return Promise.reject(this.shedError(s, cls, 'its queue is full'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = s.queue.indexOf(waiter);
          if (at >= 0) s.queue.splice(at, 1);
          reject(this.shedError(s, cls, `no slot within ${this.params.queueWaitMs} ms`));
        }, this.params.queueWaitMs),
      };
      s.queue.push(waiter);
    });
  }

  release(cls: ThrottledClass): void {
    const s = this.state(cls);
    if (s.inflight <= 0) throw new Error(`limiter: release of ${cls} with nothing in flight`);
    s.inflight--;
    this.drain(s);
  }

  /**
   * One control step per monitor window: on an anomaly with `ratio` < 1 (how far the worst
   * signal is past its tolerated level), the lowest-priority class that was busy shrinks by
   * `ratio` clamped to [decreaseMin, decreaseMax]; an anomaly within tolerance holds every
   * limit; when calm, every class that used half its limit grows. Returns the class that shrank.
   */
  adapt(anomalous: boolean, ratio = 0): ThrottledClass | undefined {
    const p = this.params;
    let shrunk: ThrottledClass | undefined;
    if (anomalous && ratio >= 1) {
      // Within tolerance: neither shed more nor admit more.
    } else if (anomalous) {
      shrunk = SHED_ORDER.find((c) => {
        const s = this.state(c);
        return (s.inflight > 0 || s.admitted > 0 || s.queue.length > 0 || s.shed > 0) && s.limit > p.minLimit;
      });
      if (shrunk) {
        const s = this.state(shrunk);
        const factor = Math.min(p.decreaseMax, Math.max(p.decreaseMin, ratio));
        s.limit = Math.max(p.minLimit, Math.floor(s.limit * factor));
      }
    } else {
      for (const s of this.classes.values()) {
        if (s.peak * 2 >= s.limit) s.limit = Math.min(p.maxLimit, s.limit + p.increase);
      }
    }
    for (const s of this.classes.values()) {
      s.peak = s.inflight;
      s.admitted = 0;
      s.shed = 0;
      this.drain(s);
    }
    return shrunk;
  }

  snapshot(): Record<ThrottledClass, ClassSnapshot> {
    const out = {} as Record<ThrottledClass, ClassSnapshot>;
    for (const [c, s] of this.classes) out[c] = { limit: s.limit, inflight: s.inflight, queued: s.queue.length, shedTotal: s.shedTotal };
    return out;
  }

  private state(cls: ThrottledClass): ClassState {
    const s = this.classes.get(cls);
    if (!s) throw new Error(`limiter: unknown class ${cls}`);
    return s;
  }

  private take(s: ClassState): void {
    s.inflight++;
    s.admitted++;
    if (s.inflight > s.peak) s.peak = s.inflight;
  }

  /** Admits waiters in arrival order while the class has room (all of them when disabled). */
  private drain(s: ClassState): void {
    while (s.queue.length > 0 && (!this.enabled || s.inflight < s.limit)) {
      const w = s.queue.shift() as Waiter;
      clearTimeout(w.timer);
      this.take(s);
      w.resolve();
    }
  }

  private shedError(s: ClassState, cls: ThrottledClass, why: string): QuorumError {
    s.shed++;
    s.shedTotal++;
    return new QuorumError('throttled', `the node is shedding ${cls} requests (limit ${s.limit} in flight; ${why}); retry after the indicated delay`, {
      headers: { 'retry-after': '1' },
      details: { class: cls, limit: s.limit },
    });
  }
}

function checkParams(p: LimiterParams): void {
  const bad = (why: string) => new Error(`throttle: ${why}`);
  for (const name of ['initialLimit', 'minLimit', 'maxLimit', 'queueMax', 'increase'] as const) {
    if (!Number.isSafeInteger(p[name]) || p[name] < 1) throw bad(`${name} must be an integer ≥ 1, got ${p[name]}`);
  }
  if (!(p.minLimit <= p.initialLimit && p.initialLimit <= p.maxLimit)) throw bad(`limits must satisfy min ≤ initial ≤ max, got ${p.minLimit} ≤ ${p.initialLimit} ≤ ${p.maxLimit}`);
  if (!(p.queueWaitMs >= 0)) throw bad(`queueWaitMs must be ≥ 0, got ${p.queueWaitMs}`);
  if (!(p.decreaseMin > 0 && p.decreaseMin <= p.decreaseMax && p.decreaseMax < 1)) throw bad(`decrease bounds must satisfy 0 < min ≤ max < 1, got ${p.decreaseMin}, ${p.decreaseMax}`);
}
