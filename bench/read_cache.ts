/**
 * `npm run bench:read-cache`: the applier's read cache under writes of new keys. Per-insert cost
 * while the cache fills (below its 200K-entry limit) against inserts past the limit (each one
 * evicting), `ROUNDS` rounds, medians; the ratio should stay near 1 (eviction amortised O(1)).
 * JSON: bench/results/read_cache.json.
 */
import { ReadCache, READ_CACHE_ENTRIES_MAX } from '../ts/node/read_cache';
import { median, printTable, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const value = Buffer.alloc(100);

function insertUs(cache: ReadCache, from: number, count: number): number {
  const started = performance.now();
  for (let i = from; i < from + count; i++) cache.applied([{ op: 'put', key: `key${i}`, value }]);
  return ((performance.now() - started) * 1000) / count;
}

const below: number[] = [];
const above: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const cache = new ReadCache();
  below.push(insertUs(cache, 0, READ_CACHE_ENTRIES_MAX));
  above.push(insertUs(cache, READ_CACHE_ENTRIES_MAX, 2 * READ_CACHE_ENTRIES_MAX));
}
const rows = [
  { measure: `insert, filling (${READ_CACHE_ENTRIES_MAX.toLocaleString()} new keys)`, value: median(below), unit: 'µs', note: below.map((x) => x.toFixed(2)).join(', ') },
  { measure: `insert past the limit (${(2 * READ_CACHE_ENTRIES_MAX).toLocaleString()} new keys, each evicting)`, value: median(above), unit: 'µs', note: above.map((x) => x.toFixed(2)).join(', ') },
  { measure: 'past the limit / filling', value: median(above.map((a, i) => a / below[i])), unit: 'ratio', note: 'target ≈ 1: eviction amortised O(1)' },
];
printTable('read cache', rows);
writeResults('read_cache', { rounds: ROUNDS, belowUs: below, aboveUs: above, rows });
