/**
 * `quorumkv md bars <instrument> --interval 1m [--from T] [--to T]`: OHLCV bars of the stored
 * trades, every page of them (`--limit` bars per request, each page's `next` the next one's
 * `from`), as a table (start as an ISO time), CSV with a header (for pandas, kdb+'s `0:`, a
 * spreadsheet) or JSON lines. Each page is a read of its own (linearizable unless `--stale`).
 */
import type { Bar, MidBar } from '../client/market_reads';
import { pageText } from './http_client';

export interface BarsCliOptions {
  interval: string;
  source: 'trades' | 'mid';
  from?: string;
  to?: string;
  limit: number;
  stale?: boolean;
  format: 'table' | 'csv' | 'json';
}

const COLUMNS = { trades: ['start', 'open', 'high', 'low', 'close', 'volume', 'buyVolume', 'sellVolume', 'trades', 'vwap'], mid: ['start', 'open', 'high', 'low', 'close', 'quotes'] } as const;

export async function barsCommand(endpoints: readonly string[], instrument: string, o: BarsCliOptions): Promise<number> {
  let from = o.from;
  let rows = 0;
  const columns: readonly string[] = COLUMNS[o.source];
  if (o.format === 'csv') process.stdout.write(`${columns.join(',')}\n`);
  for (;;) {
    const q = new URLSearchParams({ interval: o.interval, limit: String(o.limit), source: o.source });
    if (from !== undefined) q.set('from', from);
    if (o.to !== undefined) q.set('to', o.to);
    if (o.stale) q.set('consistency', 'stale');
    const text = await pageText(endpoints, `/v1/md/bars/${encodeURIComponent(instrument)}?${q}`);
    if (text === undefined) return 1;
    const page = JSON.parse(text) as { bars: (Bar | MidBar)[]; more: boolean; next: string | null };
    if (o.format === 'table' && rows === 0 && page.bars.length > 0) process.stdout.write(`${tableRow(columns)}\n`);
    if (page.bars.length > 0) process.stdout.write(`${page.bars.map((b) => render(b as unknown as Record<string, unknown>, columns, o.format)).join('\n')}\n`);
    rows += page.bars.length;
    if (!page.more || page.next === null) break;
    from = page.next;
  }
  if (o.format === 'table') process.stderr.write(`${rows} bar${rows === 1 ? '' : 's'}\n`);
  return 0;
}

function render(bar: Record<string, unknown>, columns: readonly string[], format: BarsCliOptions['format']): string {
  if (format === 'json') return JSON.stringify(bar);
  if (format === 'csv') return columns.map((c) => bar[c] ?? '').join(',');
  return tableRow(columns.map((c) => (c === 'start' ? isoNs(BigInt(bar.start as string)) : String(bar[c] ?? '-'))));
}

/** The start column fits a time with nanoseconds; the others a price with 9 decimals or a volume. */
function tableRow(cells: readonly string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(30) : cell.padStart(13))).join(' ');
}

/** Nanoseconds since the epoch as ISO-8601, with as many fractional digits as they need (3 or 9). */
export function isoNs(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const subMs = ns % 1_000_000n;
  return subMs === 0n ? iso : `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}
