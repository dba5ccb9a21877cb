/**
 * The dashboard: `GET /dashboard` (the page), `GET /dashboard/{asset}` (its modules, uPlot,
 * CSS) and `GET /v1/dashboard/stream[?book=SYMBOL&depth=N]`, the one server-sent-event stream
 * that feeds every widget (shapes in ts/dashboard/page/wire.ts). Limits: at most
 * `DASHBOARD_STREAMS_MAX` open streams per node; a page that stops reading is dropped once
 * `DASHBOARD_BUFFER_BYTES_MAX` bytes wait for it (its browser reconnects and gets the history).
 */
import { QuorumError } from '../errors';
import { type Asset, dashboardAsset, pageHtml } from '../dashboard/assets';
import type { DashboardListener, DashboardSampler } from '../dashboard/sampler';
import type { ApiContext } from './context';
import { beginStream, type Res, type Target } from './http';
import { DEPTH_MAX } from './market';
import type { Reply } from './reply';
import type { Guard } from '../auth/guard';

export const DASHBOARD_STREAMS_MAX = 32;
export const DASHBOARD_BUFFER_BYTES_MAX = 1 << 20;
/** Instruments named in one `instruments` event (the page's chooser). */
export const INSTRUMENTS_LISTED_MAX = 500;
const SECURITY_HEADERS = { 'content-security-policy': "default-src 'self'; img-src 'self' data:", 'x-content-type-options': 'nosniff' };

function sampler(ctx: ApiContext): DashboardSampler {
  if (!ctx.dashboard) throw new QuorumError('route_not_found', 'the dashboard is off on this node (--dashboard off)');
  return ctx.dashboard;
}

function serveAsset(asset: Asset): Reply {
  return {
    stream: (res) => {
      res.writeHead(200, { 'content-type': asset.type, 'content-length': String(asset.body.length), 'cache-control': 'no-cache', ...SECURITY_HEADERS });
      res.end(asset.body);
    },
  };
}

export function dashboardPage(ctx: ApiContext): Reply {
  sampler(ctx);
  return serveAsset(pageHtml);
}

export function dashboardFile(ctx: ApiContext, name: string): Reply {
  sampler(ctx);
  const asset = dashboardAsset(name);
  if (!asset) throw new QuorumError('route_not_found', `no dashboard file ${name}`);
  return serveAsset(asset);
}

export function dashboardStream(ctx: ApiContext, target: Target): Reply {
  const d = sampler(ctx);
  const book = target.query.get('book') || undefined;
  const depth = Number(target.query.get('depth') ?? 10);
  if (!Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) throw new QuorumError('invalid_depth', `depth must be an integer in 1..${DEPTH_MAX}`);
  if (book !== undefined) target.guard.check('md', book, 'read');
  const shown = instrumentFilter(target.guard);
  if (d.streams >= DASHBOARD_STREAMS_MAX) throw new QuorumError('overloaded', `at most ${DASHBOARD_STREAMS_MAX} dashboard streams per node are open`, { headers: { 'retry-after': '5' } });
  return { stream: (res) => follow(ctx, d, res, book, depth, shown) };
}

/** Which instrument names the caller may see listed (all with auth off). */
function instrumentFilter(guard: Guard): (name: string) => boolean {
  try {
    return guard.visible('md', '') ?? (() => true);
  } catch {
    return () => false;
  }
}

function follow(ctx: ApiContext, d: DashboardSampler, res: Res, book: string | undefined, depth: number, shown: (name: string) => boolean): void {
  const market = ctx.node.market;
  const listed = () => JSON.stringify(market.instruments(INSTRUMENTS_LISTED_MAX).filter(shown));
  let instruments = -1;
  const write = (event: string, data: string) => res.write(`event: ${event}\ndata: ${data}\n\n`);
  const listener: DashboardListener = {
    send: (event, data) => {
      write(event, data);
      if (event === 'sample') {
        if (market.instrumentCount !== instruments) {
          instruments = market.instrumentCount;
          write('instruments', listed());
        }
        const view = book === undefined ? undefined : market.bookView(book, depth);
        if (view !== undefined) write('book', view);
      }
      // A page that stopped reading: drop it rather than buffer without bound.
      if (res.writableLength > DASHBOARD_BUFFER_BYTES_MAX) res.destroy();
    },
  };
  res.on('close', () => d.unsubscribe(listener));
  beginStream(res, 'text/event-stream', Object.entries(SECURITY_HEADERS).flat());
  write('hello', d.subscribe(listener));
  instruments = market.instrumentCount;
  write('instruments', listed());
  const view = book === undefined ? undefined : market.bookView(book, depth);
  if (view !== undefined) write('book', view);
}
