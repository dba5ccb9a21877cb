/**
 * The dashboard's static files, served from the package itself (the machines running a node
 * may have no internet): the page's compiled modules (`dist/dashboard/*.js`, built from
 * ts/dashboard/page by `npm run build:ts`), uPlot's script and stylesheet from its package, and
 * the page's HTML and CSS. Each file is read once, on first request, and kept (a few hundred KB).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths';
import { PAGE_CSS, PAGE_HTML } from './html';

export interface Asset {
  type: string;
  body: Buffer;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
/** Page modules: lower-case names only, so a path can never leave the folder. */
const PAGE_MODULE = /^[a-z_]+\.js$/;
const VENDOR: Readonly<Record<string, { file: string; type: string }>> = {
  'uPlot.iife.min.js': { file: 'uplot/dist/uPlot.iife.min.js', type: JS },
  'uPlot.min.css': { file: 'uplot/dist/uPlot.min.css', type: CSS },
};

const cache = new Map<string, Asset>();

export const pageHtml: Asset = { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE_HTML) };

/** The asset named `name` (the part after `/dashboard/`), or undefined when there is none. */
export function dashboardAsset(name: string): Asset | undefined {
  const hit = cache.get(name);
  if (hit) return hit;
  const found = load(name);
  if (found) cache.set(name, found);
  return found;
}

function load(name: string): Asset | undefined {
  if (name === 'dashboard.css') return { type: CSS, body: Buffer.from(PAGE_CSS) };
  const vendor = VENDOR[name];
  if (vendor) return { type: vendor.type, body: readFileSync(require.resolve(vendor.file)) };
  if (!PAGE_MODULE.test(name)) return undefined;
  const path = join(packageRoot(), 'dist', 'dashboard', name);
  return existsSync(path) ? { type: JS, body: readFileSync(path) } : undefined;
}
