/**
 * The V8 flags a quorumkv node runs with. Every launcher of `quorumkv start` passes them (the
 * `quorumkv` command's own shebang, `dev`, the tests' and benchmarks' clusters); a node started
 * without them works, with more and longer GC pauses.
 *
 * Why: V8 counts the Buffer (external) bytes allocated since the last full GC against the old
 * generation's headroom (its allocation limit less its live size). A node's JavaScript heap is
 * small (~13 MB live), so that headroom is ~10 MB, while a node moves Buffers at tens to hundreds
 * of MB/s (an ingest batch is copied from the request to the log, the peers' frames and the
 * applier; a replay renders chunks). Measured with --trace-gc on a 3-node cluster during
 * bench:market and bench:replay: a mark-compact every 35–100 ms on every node (1–23 ms pauses,
 * mutator utilisation down to 0.7). A larger initial old space raises the limit the headroom is
 * measured against: with 128 MB, 6–9 mark-compacts per node over a bench:replay run instead of
 * ~100, and bench:market (two runs each way, same machine) ingested 262K → 346–403K binary
 * events/s and 176K → 219–224K NDJSON. The flag bounds a limit, it reserves nothing: memory
 * grows only as garbage does, to about that much.
 */
export const INITIAL_OLD_SPACE_MB = 128;

export const NODE_V8_FLAGS: readonly string[] = [`--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`];

/** `execArgv` plus the node flags it lacks (a flag given by the user wins). */
export function withNodeFlags(execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.map((a) => a.split('=')[0]));
  return [...execArgv, ...NODE_V8_FLAGS.filter((f) => !given.has(f.split('=')[0]))];
}
