/**
 * `quorumkv md ticks <instrument> --all [--format json|csv]`: every stored event of the range
 * (`--from`/`--to`/`--kinds`, from `--after-seq`), page after page (`--limit` per request, each
 * page's last seq the next one's `afterSeq`), as JSON lines as the node wrote them, or CSV with a
 * header — one column per field any kind has, empty where an event's kind has none — for
 * pandas, kdb+'s `0:` or a spreadsheet. Each page is a read of its own (linearizable unless
 * `--stale`).
 */
import { arrayElements, skipJsonSpace } from '../json_text';
import { pageText } from './http_client';

export interface TicksExportOptions {
  afterSeq?: string;
  limit: number;
  from?: string;
  to?: string;
  kinds?: string;
  stale?: boolean;
  /** Each event with the top of the book, or the last quote, before it (CSV: four more columns); bare: the book. */
  prevailing?: true | 'book' | 'quote';
  format: 'json' | 'csv';
}

/** Every field of `recordToEvent` (ts/market/records.ts), in one order. */
const COLUMNS = ['seq', 'instrument', 'kind', 'tsEvent', 'tsRecv', 'action', 'side', 'price', 'size', 'orders', 'bidPrice', 'bidSize', 'askPrice', 'askSize', 'producerId', 'producerSeq', 'venueSeq', 'publisher', 'last', 'maybeBad'] as const;
/** With --prevailing: the top of the book before each event. */
const PREVAILING_COLUMNS = ['bestBid', 'bidSize', 'bestAsk', 'askSize'] as const;

export async function exportTicks(endpoints: readonly string[], instrument: string, o: TicksExportOptions): Promise<number> {
  let after = o.afterSeq;
  if (o.format === 'csv') process.stdout.write(`${[...COLUMNS, ...(o.prevailing ? PREVAILING_COLUMNS.map((c) => `prevailing.${c}`) : [])].join(',')}\n`);
  for (;;) {
    const q = new URLSearchParams({ limit: String(o.limit) });
    const prevailing = prevailingSource(o.prevailing);
    if (prevailing) q.set('prevailing', prevailing);
    for (const [k, v] of [['afterSeq', after], ['from', o.from], ['to', o.to], ['kinds', o.kinds]] as const) if (v !== undefined) q.set(k, v);
    if (o.stale) q.set('consistency', 'stale');
    const text = await pageText(endpoints, `/v1/md/ticks/${encodeURIComponent(instrument)}?${q}`);
    if (text === undefined) return 1;
    const page = JSON.parse(text) as { events: Record<string, unknown>[]; more: boolean };
    const lines = o.format === 'csv' ? page.events.map(csvRow) : arrayElements(text, skipJsonSpace(text, text.indexOf('"events":') + 9));
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    const last = page.events.at(-1);
    if (!page.more || last === undefined) return 0;
    after = last.seq as string;
  }
}

/** `--prevailing` bare is the book's. */
export function prevailingSource(flag: TicksExportOptions['prevailing']): 'book' | 'quote' | undefined {
  return flag === true ? 'book' : flag;
}

function csvRow(event: Record<string, unknown>): string {
  const prevailing = event.prevailing as Record<string, unknown> | undefined;
  const cells = COLUMNS.map((c) => csvCell(event[c]));
  if (prevailing) cells.push(...PREVAILING_COLUMNS.map((c) => csvCell(prevailing[c])));
  return cells.join(',');
}

/** RFC 4180: a cell with a comma, a quote or a line break is quoted, its quotes doubled. */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
