/**
 * A node's health settings and their defaults — apart from the health loop (node_health.ts),
 * so the CLI can parse and check them without loading the metrics library behind that loop.
 */
import { type DetectorParams, DETECTOR_DEFAULTS } from './ewma';
import { LIMITER_DEFAULTS, type LimiterParams } from './limiter';

export interface HealthConfig {
  /** Adaptive throttling on (default) or off (limits still adapt: switching on is instant). */
  throttle: boolean;
  /** `GET /metrics` and the recording behind it. */
  metrics: boolean;
  /** `GET /dashboard` and its once-a-second sampler (the node keeps 10 minutes of history). */
  dashboard: boolean;
  windowMs: number;
  detector: DetectorParams;
  /** See MonitorParams.tolerance. */
  tolerance: number;
  limiter: LimiterParams;
  /** Test-only endpoints (`POST /v1/test/wal-stall`). */
  testFaults: boolean;
}

export const HEALTH_DEFAULTS: HealthConfig = { throttle: true, metrics: true, dashboard: true, windowMs: 100, detector: DETECTOR_DEFAULTS, tolerance: 2, limiter: LIMITER_DEFAULTS, testFaults: false };
