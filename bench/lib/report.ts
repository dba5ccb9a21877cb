/** Shared benchmark plumbing: medians and percentiles, a printed table, JSON under bench/results. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile of `xs` (need not be sorted). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export type Row = Record<string, string | number>;

export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) => (typeof v === 'number' ? formatNumber(v) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? '').length)));
  console.log(`\n${title}`);
  console.log(cols.map((c, i) => c.padStart(widths[i])).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => cell(r[c] ?? '').padStart(widths[i])).join('  '));
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

/** Writes bench/results/<name>.json with the machine it ran on. */
export function writeResults(name: string, results: unknown): string {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const doc = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release(), node: process.version },
    results,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  console.log(`\nresults written to ${file}`);
  return file;
}
