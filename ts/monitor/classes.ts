/**
 * Request classes in priority order. `control` (health, cluster, metrics, monitor) is never
 * throttled; of the others the lowest (bulk) is shed first and the highest (reads) last.
 */
export const THROTTLED_CLASSES = ['read', 'write', 'ingest', 'bulk'] as const;
export type ThrottledClass = (typeof THROTTLED_CLASSES)[number];
export type RequestClass = 'control' | ThrottledClass;

/** Lowest priority first: the order in which an anomaly shrinks limits. */
export const SHED_ORDER: readonly ThrottledClass[] = [...THROTTLED_CLASSES].reverse();
