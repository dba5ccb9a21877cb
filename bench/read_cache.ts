/**
 * `npm run bench:read-cache`: the read cache (in the addon, beside the engine) under writes of
 * new keys, each its own published batch (`Engine.cacheApplied`, the applier's call). Per-insert
 * cost while the cache fills (below its 200K-entry limit) against inserts past the limit (each
 * one evicting), `ROUNDS` rounds, medians; the ratio should stay near 1 (eviction amortised
 * O(1)). JSON: bench/results/read_cache.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, packBatch, READ_CACHE_ENTRIES_MAX } from '../ts/native';
import { median, printTable, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const value = Buffer.alloc(100);

function insertUs(engine: Engine, from: number, count: number): number {
  const batches = Array.from({ length: count }, (_, i) => packBatch([{ op: 'put', key: `key${from + i}`, value }]));
  const started = performance.now();
  for (const packed of batches) engine.cacheApplied(packed);
  return ((performance.now() - started) * 1000) / count;
}

const below: number[] = [];
const above: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-read-cache-'));
  const engine = Engine.open(dir);
  below.push(insertUs(engine, 0, READ_CACHE_ENTRIES_MAX));
  above.push(insertUs(engine, READ_CACHE_ENTRIES_MAX, 2 * READ_CACHE_ENTRIES_MAX));
  engine.close();
  rmSync(dir, { recursive: true, force: true });
}
const rows = [
  { measure: `insert, filling (${READ_CACHE_ENTRIES_MAX.toLocaleString()} new keys)`, value: median(below), unit: 'µs', note: below.map((x) => x.toFixed(2)).join(', ') },
  { measure: `insert past the limit (${(2 * READ_CACHE_ENTRIES_MAX).toLocaleString()} new keys, each evicting)`, value: median(above), unit: 'µs', note: above.map((x) => x.toFixed(2)).join(', ') },
  { measure: 'past the limit / filling', value: median(above.map((a, i) => a / below[i])), unit: 'ratio', note: 'target ≈ 1: eviction amortised O(1)' },
];
printTable('read cache', rows);
writeResults('read_cache', { rounds: ROUNDS, belowUs: below, aboveUs: above, rows });
