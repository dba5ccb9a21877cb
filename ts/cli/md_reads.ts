/**
 * The market-data reads of the CLI: `md book`, `md top`, `md vwap`, `md ticks`, `md instruments`, `md feeds` (one
 * request each, the answer printed as the node wrote it), `md ticks --all` and `md bars` (every
 * page, see md_ticks.ts and md_bars.ts) and `md stream` (live lines until
 * Ctrl-C, through the client library: it follows the cluster across node failures, resuming
 * after the last seq printed, nothing lost or repeated).
 */
import { type Command, Option } from 'commander';
import type { MarketStreamOptions } from '../client/streams';
import { clientCommand, endpointOption, send } from './client';
import * as flags from './flags';
import { follow } from './follow';
import { type BarsCliOptions, barsCommand } from './md_bars';
import { exportTicks, prevailingSource, type TicksExportOptions } from './md_ticks';

const bookPath = (instrument: string): string => `/v1/md/books/${encodeURIComponent(instrument)}`;
const stale = (o: Record<string, unknown>): string | undefined => (o.stale ? 'stale' : undefined);

export function mdReadCommands(md: Command): void {
  clientCommand(md, 'book <instrument>', 'an order book: now, or as of a venue time (--at) or a seq (--seq)', ([instrument], o) => ({
    path: bookPath(instrument),
    query: { depth: o.depth as number, at: o.at as string | undefined, seq: o.seq as string | undefined, consistency: stale(o) },
  }))
    .option('--depth <n>', 'levels per side', flags.integer(1, 1000), 10)
    .option('--at <time>', 'as of this venue time: integer ns or ISO-8601')
    .option('--seq <seq>', 'as of this seq')
    .option('--stale', 'serve from this member without a ReadIndex round');
  clientCommand(md, 'top <instruments>', 'best bid and ask of several instruments: now, one consistent cut, or each as of --at/--seq', ([list], o) => ({
    method: 'POST',
    path: '/v1/md/books/top',
    query: { at: o.at as string | undefined, seq: o.seq as string | undefined },
    body: { instruments: flags.list(list) },
  }))
    .option('--at <time>', 'as of this venue time: integer ns or ISO-8601')
    .option('--seq <seq>', 'as of this seq');
  clientCommand(md, 'vwap <instrument>', 'the average price to fill a quantity against the book', ([instrument], o) => ({
    path: `${bookPath(instrument)}/vwap`,
    query: { side: o.side as string, qty: o.qty as number, consistency: stale(o) },
  }))
    .addOption(new Option('--side <side>', 'buy (lifts asks) or sell (hits bids)').choices(['buy', 'sell']).makeOptionMandatory())
    .requiredOption('--qty <n>', 'the quantity to fill', flags.integer(1))
    .option('--stale', 'serve from this member without a ReadIndex round');
  md.command('ticks <instrument>')
    .description('stored events in seq order, a page at a time; with --all, every page, as JSON lines or CSV')
    .addOption(endpointOption())
    .option('--after-seq <seq>', 'start after this seq (the last seq of the previous page)', flags.seq)
    .option('--limit <n>', 'events per page (request): default 100, with --all 10,000', flags.integer(1, 10_000))
    .option('--from <time>', 'only events at or after this venue time: integer ns or ISO-8601')
    .option('--to <time>', 'only events before this venue time')
    .option('--kinds <list>', 'only these kinds: delta,trade,quote')
    .addOption(new Option('--prevailing [source]', 'each event with the top of the book just before it (trades with their prevailing quote): of the L2 book (the default), or of the last quote record (quote: TAQ data without deltas)').choices(['book', 'quote']))
    .option('--all', 'every page until the last, one event per line')
    .addOption(new Option('--format <format>', 'with --all: JSON lines, or CSV with a header').choices(['json', 'csv']).default('json'))
    .option('--stale', 'serve from this member without a ReadIndex round')
    .action(async (instrument: string, o: Omit<TicksExportOptions, 'limit'> & { endpoint: string[]; all?: boolean; limit?: number }) => {
      if (o.all) process.exitCode = await exportTicks(o.endpoint, instrument, { ...o, limit: o.limit ?? 10_000 });
      else process.exitCode = await send(o.endpoint, { path: `/v1/md/ticks/${encodeURIComponent(instrument)}`, query: { afterSeq: o.afterSeq, limit: o.limit ?? 100, from: o.from, to: o.to, kinds: o.kinds, prevailing: prevailingSource(o.prevailing), consistency: o.stale ? 'stale' : undefined } });
    });
  md.command('bars <instrument>')
    .description('OHLCV bars of the stored trades (open, high, low, close, volume, trades, VWAP), every page of them')
    .addOption(endpointOption())
    .requiredOption('--interval <duration>', 'bar length: integer ns or e.g. 100ms, 1s, 5m, 1h, 1d (bars start on its multiples)')
    .option('--from <time>', 'venue time to start at: integer ns or ISO-8601 (default: the first trade)')
    .option('--to <time>', 'venue time to stop before (exclusive)')
    .option('--limit <n>', 'bars per request', flags.integer(1, 100_000), 10_000)
    .addOption(new Option('--format <format>', 'a table, CSV with a header, or JSON lines').choices(['table', 'csv', 'json']).default('table'))
    .addOption(new Option('--source <source>', 'trades (OHLCV), or mid: the mid of two-sided quotes (OHLC and their count)').choices(['trades', 'mid']).default('trades'))
    .option('--stale', 'serve from this member without a ReadIndex round')
    .action(async (instrument: string, o: BarsCliOptions & { endpoint: string[] }) => {
      process.exitCode = await barsCommand(o.endpoint, instrument, o);
    });
  clientCommand(md, 'instruments', 'the instruments held, in name order, with the range of their stored events (one page; next: --after)', (_a, o) => ({
    path: '/v1/md/instruments',
    query: { prefix: o.prefix as string | undefined, after: o.after as string | undefined, limit: o.limit as number, consistency: stale(o) },
  }))
    .option('--prefix <p>', 'only names starting with this')
    .option('--after <name>', 'the page after this name (the last page\'s "next")')
    .option('--limit <n>', 'instruments per page', flags.integer(1, 1000), 100)
    .option('--stale', 'serve from this member without a ReadIndex round');
  clientCommand(md, 'feeds', 'producers (their last producerSeq and seq range) and the venue gaps seen', (_a, o) => ({ path: '/v1/md/feeds', query: { consistency: stale(o) } })).option(
    '--stale',
    'serve from this member without a ReadIndex round',
  );
  md.command('stream <instruments>')
    .description('live market data (a book per instrument first, then events and books) as JSON lines until Ctrl-C')
    .addOption(endpointOption())
    .option('--kinds <list>', 'delta,trade,quote,book (default: all)', flags.list)
    .option('--depth <n>', 'book levels per side', flags.integer(1, 1000), 10)
    .option('--from-seq <seq>', 'stored events after this seq first, then live ones', flags.seq)
    .action(async (list: string, o: { endpoint: string[]; kinds?: string[]; depth: number; fromSeq?: string }) => {
      const opts = { instruments: flags.list(list), kinds: o.kinds as MarketStreamOptions['kinds'], depth: o.depth, fromSeq: o.fromSeq };
      process.exitCode = await streamCommand(o.endpoint, opts);
    });
}

/** `md stream`: see `follow.ts` for failures, exit status and errors. */
function streamCommand(endpoints: string[], opts: Omit<MarketStreamOptions, 'signal'>): Promise<number> {
  return follow(endpoints, async function* (client, signal) {
    for await (const line of client.marketStream({ ...opts, signal })) yield JSON.stringify(line);
  });
}
