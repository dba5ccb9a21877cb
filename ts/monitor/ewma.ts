/**
 * One signal's EWMA residual detector (pure: no clock, no I/O). Each closed window gives one
 * value x; the detector keeps an exponentially weighted mean μ and variance σ², and reports the
 * residual r = x − μ and z = r / σ.
 *
 * Invariants:
 * - a window is anomalous when z ≥ k for `confirmWindows` windows in a row; the anomaly clears
 *   only after z < `clearZ` (< k: hysteresis) for `clearWindows` windows in a row;
 * - the baseline does not learn from windows at or above k, nor during an anomaly, so a spike
 *   never becomes the new normal; a slow drift (each step well inside kσ) moves it silently;
 * - an anomaly lasting `relearnWindows` is taken as a new level: the baseline restarts from it
 *   (a disk that stays slower must not keep the store throttled forever).
 */
export interface DetectorParams {
  /** Baseline half-life in windows: α = 1 − 2^(−1/halfLifeWindows). */
  halfLifeWindows: number;
  /** z at or above which a window counts as anomalous. */
  k: number;
  confirmWindows: number;
  /** z below which a window counts as normal again while in an anomaly. */
  clearZ: number;
  clearWindows: number;
  /** Windows that only learn (no alarms) after a start or a relearn. */
  warmupWindows: number;
  relearnWindows: number;
  /** σ is never taken below this fraction of |μ| (a perfectly flat signal must not alarm on noise). */
  sigmaFloorRatio: number;
  /** ... nor below this absolute value, in the signal's unit (an idle signal sits at 0). */
  sigmaFloor: number;
}

export const DETECTOR_DEFAULTS: DetectorParams = {
  halfLifeWindows: 100,
  k: 3,
  confirmWindows: 3,
  clearZ: 1.5,
  clearWindows: 3,
  warmupWindows: 30,
  relearnWindows: 300,
  sigmaFloorRatio: 0.02,
  sigmaFloor: 0,
};

export type DetectorState = 'warmup' | 'normal' | 'anomaly';

export interface WindowVerdict {
  residual: number;
  z: number;
  state: DetectorState;
  /** This window confirmed a new anomaly (its first window was `confirmWindows − 1` earlier). */
  started: boolean;
  /** This window cleared the anomaly. */
  ended: boolean;
}

export class EwmaDetector {
  private readonly alpha: number;
  private mean = 0;
  private variance = 0;
  private seen = 0;
  private above = 0;
  private below = 0;
  private anomalous = 0;
  state: DetectorState = 'warmup';
  lastZ = 0;
  lastResidual = 0;

  constructor(readonly params: DetectorParams = DETECTOR_DEFAULTS) {
    checkParams(params);
    this.alpha = 1 - 2 ** (-1 / params.halfLifeWindows);
  }

  get mu(): number {
    return this.mean;
  }

  get sigma(): number {
    return Math.max(Math.sqrt(this.variance), Math.abs(this.mean) * this.params.sigmaFloorRatio, this.params.sigmaFloor, Number.MIN_VALUE);
  }

  /** Feeds one window's value. */
  observe(x: number): WindowVerdict {
    if (!Number.isFinite(x)) throw new Error(`monitor: window value must be finite, got ${x}`);
    const p = this.params;
    if (this.seen === 0) {
      this.mean = x;
      this.variance = 0;
    }
    const residual = x - this.mean;
    const z = this.seen === 0 ? 0 : residual / this.sigma;
    this.lastZ = z;
    this.lastResidual = residual;
    this.seen++;
    if (this.state === 'warmup') {
      this.learn(x);
      if (this.seen >= p.warmupWindows) this.state = 'normal';
      return { residual, z, state: this.state, started: false, ended: false };
    }
    return this.state === 'normal' ? this.whileNormal(x, residual, z) : this.whileAnomalous(x, residual, z);
  }

  private whileNormal(x: number, residual: number, z: number): WindowVerdict {
    if (z >= this.params.k) {
      this.above++;
      if (this.above >= this.params.confirmWindows) {
        this.state = 'anomaly';
        this.anomalous = this.above;
        this.below = 0;
        return { residual, z, state: 'anomaly', started: true, ended: false };
      }
    } else {
      this.above = 0;
      this.learn(x);
    }
    return { residual, z, state: 'normal', started: false, ended: false };
  }

  private whileAnomalous(x: number, residual: number, z: number): WindowVerdict {
    const p = this.params;
    this.anomalous++;
    this.below = z < p.clearZ ? this.below + 1 : 0;
    if (this.below >= p.clearWindows) return this.clear(residual, z);
    if (this.anomalous >= p.relearnWindows) {
      // A level this long-lived is the new normal: start the baseline again from it.
      this.state = 'warmup';
      this.seen = 1;
      this.above = 0;
      this.anomalous = 0;
      this.mean = x;
      this.variance = 0;
      return { residual, z, state: 'warmup', started: false, ended: true };
    }
    return { residual, z, state: 'anomaly', started: false, ended: false };
  }

  private clear(residual: number, z: number): WindowVerdict {
    this.state = 'normal';
    this.above = 0;
    this.anomalous = 0;
    return { residual, z, state: 'normal', started: false, ended: true };
  }

  /** West's incremental EWMA mean and variance. */
  private learn(x: number): void {
    const diff = x - this.mean;
    const incr = this.alpha * diff;
    this.mean += incr;
    this.variance = (1 - this.alpha) * (this.variance + diff * incr);
  }
}

function checkParams(p: DetectorParams): void {
  const bad = (name: string, why: string) => new Error(`monitor: ${name} ${why}`);
  if (!(p.halfLifeWindows >= 1)) throw bad('halfLifeWindows', `must be ≥ 1, got ${p.halfLifeWindows}`);
  if (!(p.k > 0)) throw bad('k', `must be > 0, got ${p.k}`);
  if (!(p.clearZ >= 0 && p.clearZ < p.k)) throw bad('clearZ', `must be in [0, k), got ${p.clearZ}`);
  for (const name of ['confirmWindows', 'clearWindows', 'warmupWindows', 'relearnWindows'] as const) {
    if (!Number.isSafeInteger(p[name]) || p[name] < 1) throw bad(name, `must be an integer ≥ 1, got ${p[name]}`);
  }
  if (!(p.sigmaFloorRatio >= 0)) throw bad('sigmaFloorRatio', `must be ≥ 0, got ${p.sigmaFloorRatio}`);
  if (!(p.sigmaFloor >= 0)) throw bad('sigmaFloor', `must be ≥ 0, got ${p.sigmaFloor}`);
}
