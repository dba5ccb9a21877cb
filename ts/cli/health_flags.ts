/**
 * `start`'s monitor and throttling flags, turned into the node's health configuration. Values
 * are checked one by one by the flag parsers, and together here (e.g. a half-life shorter than
 * a window) — a bad combination stops `start` with the flag named, before the node opens.
 */
import { type Command, Option } from 'commander';
import { DETECTOR_DEFAULTS, EwmaDetector } from '../monitor/ewma';
import { ConcurrencyLimiter, LIMITER_DEFAULTS } from '../monitor/limiter';
import { type HealthConfig, HEALTH_DEFAULTS } from '../monitor/health_config';
import * as flags from './flags';

export interface HealthFlags {
  throttle: boolean;
  metrics: boolean;
  dashboard: boolean;
  monitorWindowMs: number;
  monitorHalfLifeS: number;
  monitorK: number;
  monitorConfirm: number;
  throttleTolerance: number;
  throttleQueueWaitMs: number;
  throttleLimitMin: number;
  throttleLimitMax: number;
}

export function addHealthFlags(cmd: Command): Command {
  const L = LIMITER_DEFAULTS;
  return cmd
    .addOption(new Option('--throttle <on|off>', 'adaptive throttling: shed the lowest class first when the monitor sees an anomaly').argParser(flags.onOff).default(true, 'on'))
    .addOption(new Option('--metrics <on|off>', 'GET /metrics (Prometheus text)').argParser(flags.onOff).default(true, 'on'))
    .addOption(new Option('--dashboard <on|off>', 'GET /dashboard (a live web page) and its 10 minutes of history').argParser(flags.onOff).default(true, 'on'))
    .option('--monitor-window-ms <n>', 'monitor window (one value per signal per window)', flags.integer(10, 10_000), HEALTH_DEFAULTS.windowMs)
    .option('--monitor-half-life-s <s>', 'EWMA baseline half-life in seconds', flags.positive, 10)
    .option('--monitor-k <z>', 'anomaly threshold in baseline standard deviations', flags.positive, DETECTOR_DEFAULTS.k)
    .option('--monitor-confirm <n>', 'consecutive windows at or above k before an anomaly is declared', flags.integer(1, 100), DETECTOR_DEFAULTS.confirmWindows)
    .option('--throttle-tolerance <x>', 'limits come down only once a signal runs past x times its baseline (≥ 1)', flags.positive, HEALTH_DEFAULTS.tolerance)
    .option('--throttle-queue-wait-ms <n>', 'longest a request waits for a slot before 429 throttled', flags.integer(0, 60_000), L.queueWaitMs)
    .option('--throttle-limit-min <n>', 'smallest concurrency limit per class', flags.integer(1, 1_000_000), L.minLimit)
    .option('--throttle-limit-max <n>', 'largest concurrency limit per class', flags.integer(1, 1_000_000), L.maxLimit);
}

/** The configuration, or an Error naming the flags that do not fit together. */
export function healthConfig(o: HealthFlags, testFaults: boolean): HealthConfig {
  const halfLifeWindows = (o.monitorHalfLifeS * 1000) / o.monitorWindowMs;
  if (halfLifeWindows < 1) throw new Error(`--monitor-half-life-s ${o.monitorHalfLifeS} is shorter than one window (--monitor-window-ms ${o.monitorWindowMs})`);
  if (o.throttleTolerance < 1) throw new Error(`--throttle-tolerance must be at least 1, got ${o.throttleTolerance}`);
  if (o.throttleLimitMin > o.throttleLimitMax) throw new Error(`--throttle-limit-min ${o.throttleLimitMin} is above --throttle-limit-max ${o.throttleLimitMax}`);
  const clearZ = Math.min(DETECTOR_DEFAULTS.clearZ, o.monitorK / 2);
  const detector = { ...DETECTOR_DEFAULTS, halfLifeWindows, k: o.monitorK, confirmWindows: o.monitorConfirm, clearZ };
  const initialLimit = Math.min(Math.max(LIMITER_DEFAULTS.initialLimit, o.throttleLimitMin), o.throttleLimitMax);
  const limiter = { ...LIMITER_DEFAULTS, queueWaitMs: o.throttleQueueWaitMs, minLimit: o.throttleLimitMin, maxLimit: o.throttleLimitMax, initialLimit };
  // The constructors check the rest; build them once here so a bad value fails at start.
  new EwmaDetector(detector);
  new ConcurrencyLimiter(limiter);
  return { throttle: o.throttle, metrics: o.metrics, dashboard: o.dashboard, windowMs: o.monitorWindowMs, detector, tolerance: o.throttleTolerance, limiter, testFaults };
}
