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
  /**
   * A limit never comes below bdpGain × (the class's best completion rate over the last
   * `rateWindows` windows) × (its baseline latency): the concurrency that rate needs at normal
   * latency (Little's law; BBR's bandwidth-delay product). Below it, shedding only loses
   * throughput — when latency is up for a reason outside the queue (a saturated CPU), a pure
   * latency gradient would otherwise shrink the limit to its minimum and the goodput with it.
   */
  bdpGain: number;
  rateWindows: number;
}

/** No class grows during an anomaly unless named. */
const NONE: ReadonlySet<ThrottledClass> = new Set();

export const LIMITER_DEFAULTS: LimiterParams = {
  // Calm, a node admits up to the largest limit: limits only come down on an anomaly.
  initialLimit: 4096,
  minLimit: 8,
  maxLimit: 4096,
  queueMax: 1024,
  queueWaitMs: 25,
  decreaseMin: 0.5,
  decreaseMax: 0.9,
  increase: 16,
  bdpGain: 1.5,
  // 30 s: the rate before an overload began is remembered through it (the rate during one is
  // no guide: refusing the excess costs the CPU the admitted work needs).
  rateWindows: 300,
};

interface Waiter {
  /** true: admitted (the slot is taken); false: shed. */
  resolve: (admitted: boolean) => void;
  /** performance.now() past which the waiter is shed; FIFO, so deadlines only grow. */
  deadlineMs: number;
}

class ClassState {
  limit: number;
  inflight = 0;
  /** Peak inflight in the current window (the controller grows only used limits). */
  peak = 0;
  admitted = 0;
  shed = 0;
  shedTotal = 0;
  /** Requests completed this window. */
  completed = 0;
  /** Completions per window over the last `rateWindows` windows (a ring). */
  readonly rates: number[] = [];
  readonly queue: Waiter[] = [];
  /** One timer per class, for the head of the queue (not one per waiter). */
  timer: NodeJS.Timeout | undefined;
  /** The 429 answer, rebuilt only when the limit changes (no error object per shed request). */
  error: { limit: number; err: QuorumError; text: string } | undefined;

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
  /** The monitor's window (each `adapt` call closes one). */
  private windowMs = 100;

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

  /**
   * Waits for a slot: resolves true once admitted, false when shed — at once if the queue is
   * full or the wait it faces (its length at the last window's completion rate) is past
   * `queueWaitMs`, else when its wait runs out. Shedding throws nothing: under overload the
   * rejections outnumber the work, and each must cost little.
   */
  acquire(cls: ThrottledClass): Promise<boolean> {
    const s = this.state(cls);
    if (this.tryAcquire(cls)) return Promise.resolve(true);
    if (s.queue.length >= this.params.queueMax || this.expectedWaitMs(s) > this.params.queueWaitMs) {
      this.countShed(s);
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      s.queue.push({ resolve, deadlineMs: performance.now() + this.params.queueWaitMs });
      if (s.timer === undefined) this.armTimer(s);
    });
  }

  /** The 429 `throttled` answer for `cls` (Retry-After: 1). */
  shedError(cls: ThrottledClass): QuorumError {
    return this.shedAnswer(cls).err;
  }

  /** The same answer, also serialized (the API sends `text` as is: no stringify per request). */
  shedAnswer(cls: ThrottledClass): { err: QuorumError; text: string } {
    const s = this.state(cls);
    if (s.error?.limit !== s.limit) {
      const details = { class: cls, limit: s.limit };
      const err = new QuorumError('throttled', `the node is shedding ${cls} requests (limit ${s.limit} in flight, a wait of at most ${this.params.queueWaitMs} ms); retry after the indicated delay`, {
        headers: { 'retry-after': '1' },
        details,
      });
      s.error = { limit: s.limit, err, text: JSON.stringify({ error: { code: err.code, message: err.message, ...details } }) };
    }
    return s.error;
  }

  /** How long a new waiter would wait: the queue ahead of it at last window's completion rate. */
  private expectedWaitMs(s: ClassState): number {
    if (s.queue.length === 0) return 0;
    const perWindow = s.rates.length > 0 ? s.rates[s.rates.length - 1] : 0;
    if (perWindow === 0) return 0;
    return ((s.queue.length + 1) * this.windowMs) / perWindow;
  }

  private armTimer(s: ClassState): void {
    const head = s.queue[0];
    s.timer = head === undefined ? undefined : setTimeout(() => this.expire(s), Math.max(0, head.deadlineMs - performance.now()));
  }

  /** Sheds every waiter whose wait ran out (they are at the head: FIFO), then re-arms. */
  private expire(s: ClassState): void {
    const now = performance.now();
    while (s.queue.length > 0 && s.queue[0].deadlineMs <= now) {
      this.countShed(s);
      (s.queue.shift() as Waiter).resolve(false);
    }
    this.armTimer(s);
  }

  private countShed(s: ClassState): void {
    s.shed++;
    s.shedTotal++;
  }

  release(cls: ThrottledClass): void {
    const s = this.state(cls);
    if (s.inflight <= 0) throw new Error(`limiter: release of ${cls} with nothing in flight`);
    s.inflight--;
    s.completed++;
    this.drain(s);
  }

  /**
   * One control step per monitor window: on an anomaly with `ratio` < 1 (how far the worst
   * signal is past its tolerated level), the lowest-priority class that was busy shrinks by
   * `ratio` clamped to [decreaseMin, decreaseMax]; an anomaly within tolerance holds every
   * limit; when calm, every class that used half its limit grows. Returns the class that shrank.
   */
  adapt(
    anomalous: boolean,
    ratio = 0,
    baselineMs: Partial<Record<ThrottledClass, number>> = {},
    windowMs = 100,
    growing: ReadonlySet<ThrottledClass> = NONE,
    currentMs: Partial<Record<ThrottledClass, number>> = {},
  ): ThrottledClass | undefined {
    const p = this.params;
    this.windowMs = windowMs;
    let shrunk: ThrottledClass | undefined;
    for (const s of this.classes.values()) {
      s.rates.push(s.completed);
      if (s.rates.length > p.rateWindows) s.rates.shift();
      s.completed = 0;
    }
    if (anomalous) {
      // `growing` classes are held back by something no limit fixes (a stalled disk): a used
      // limit grows, at once to what their rate needs at the latency they have now (Little's
      // law) — bigger batches carry the same rate through a slower fsync.
      for (const c of growing) {
        const s = this.state(c);
        this.grow(s);
        const now = currentMs[c];
        if (now !== undefined) s.limit = Math.min(p.maxLimit, Math.max(s.limit, this.floor(s, now, windowMs, Number.POSITIVE_INFINITY)));
      }
    }
    if (anomalous && ratio >= 1) {
      // Within tolerance: neither shed more nor admit more.
    } else if (anomalous) {
      // Classes at or above a `growing` one are not cut: only those below it may give way.
      const stop = SHED_ORDER.findIndex((c) => growing.has(c));
      const candidates = stop < 0 ? SHED_ORDER : SHED_ORDER.slice(0, stop);
      shrunk = candidates.find((c) => {
        const s = this.state(c);
        return (s.inflight > 0 || s.admitted > 0 || s.queue.length > 0 || s.shed > 0) && s.limit > this.floor(s, baselineMs[c], windowMs);
      });
      if (shrunk) {
        const s = this.state(shrunk);
        const factor = Math.min(p.decreaseMax, Math.max(p.decreaseMin, ratio));
        s.limit = Math.max(this.floor(s, baselineMs[shrunk], windowMs), Math.floor(s.limit * factor));
      }
    } else {
      for (const s of this.classes.values()) this.grow(s);
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

  /** Additive increase, for a class that used at least half its limit this window. */
  private grow(s: ClassState): void {
    if (s.peak * 2 >= s.limit) s.limit = Math.min(this.params.maxLimit, s.limit + this.params.increase);
  }

  /** The lowest the class's limit may go now: the minimum, or its rate's concurrency need. */
  private floor(s: ClassState, latencyMs: number | undefined, windowMs: number, cap = s.limit): number {
    if (latencyMs === undefined || !(latencyMs > 0)) return this.params.minLimit;
    let best = 0;
    for (const r of s.rates) if (r > best) best = r;
    const ratePerMs = best / windowMs;
    return Math.min(cap, Math.max(this.params.minLimit, Math.ceil(this.params.bdpGain * ratePerMs * latencyMs)));
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
    let admitted = false;
    while (s.queue.length > 0 && (!this.enabled || s.inflight < s.limit)) {
      this.take(s);
      (s.queue.shift() as Waiter).resolve(true);
      admitted = true;
    }
    if (admitted && s.queue.length === 0 && s.timer !== undefined) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
  }
}

function checkParams(p: LimiterParams): void {
  const bad = (why: string) => new Error(`throttle: ${why}`);
  if (!(p.bdpGain >= 0)) throw bad(`bdpGain must be ≥ 0, got ${p.bdpGain}`);
  for (const name of ['initialLimit', 'minLimit', 'maxLimit', 'queueMax', 'increase', 'rateWindows'] as const) {
    if (!Number.isSafeInteger(p[name]) || p[name] < 1) throw bad(`${name} must be an integer ≥ 1, got ${p[name]}`);
  }
  if (!(p.minLimit <= p.initialLimit && p.initialLimit <= p.maxLimit)) throw bad(`limits must satisfy min ≤ initial ≤ max, got ${p.minLimit} ≤ ${p.initialLimit} ≤ ${p.maxLimit}`);
  if (!(p.queueWaitMs >= 0)) throw bad(`queueWaitMs must be ≥ 0, got ${p.queueWaitMs}`);
  if (!(p.decreaseMin > 0 && p.decreaseMin <= p.decreaseMax && p.decreaseMax < 1)) throw bad(`decrease bounds must satisfy 0 < min ≤ max < 1, got ${p.decreaseMin}, ${p.decreaseMax}`);
}
