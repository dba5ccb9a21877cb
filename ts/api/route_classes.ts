/**
 * Which throttling class each route belongs to (by `METHOD template`). Anything not listed is
 * `control` (health, cluster, membership, metrics, monitor, replay control): never throttled.
 * Streams (watch, live market data, replay) count as bulk while they are being opened.
 */
import type { RequestClass } from '../monitor/classes';

const CLASSES: ReadonlyMap<string, RequestClass> = new Map<string, RequestClass>([
  ['GET /v1/kv/{key}', 'read'],
  ['POST /v1/kv/get', 'read'],
  ['POST /v1/multiget', 'read'],
  ['GET /v1/md/books/{instrument}', 'read'],
  ['GET /v1/md/books/{instrument}/vwap', 'read'],
  ['POST /v1/md/books/top', 'read'],
  ['GET /v1/md/feeds', 'read'],
  ['GET /v1/md/instruments', 'read'],
  ['PUT /v1/kv/{key}', 'write'],
  ['DELETE /v1/kv/{key}', 'write'],
  ['PATCH /v1/kv/{key}', 'write'],
  ['DELETE /v1/kv', 'write'],
  ['POST /v1/txn', 'write'],
  ['POST /v1/batch', 'write'],
  ['POST /v1/sessions', 'write'],
  ['POST /v1/md/events', 'ingest'],
  ['POST /v1/md/ingest', 'ingest'],
  ['GET /v1/kv', 'bulk'],
  ['GET /v1/md/ticks/{instrument}', 'bulk'],
  ['GET /v1/md/bars/{instrument}', 'bulk'],
  ['POST /v1/md/bars', 'bulk'],
  ['GET /v1/watch', 'bulk'],
  ['GET /v1/md/stream', 'bulk'],
  ['POST /v1/md/replay', 'bulk'],
]);

/** Book reads as of a past time or seq: each rebuilds books from checkpoints, a bulk read's cost. */
const AS_OF_TEMPLATES = new Set(['/v1/md/books/{instrument}', '/v1/md/books/top']);

/**
 * `query`: a book read with `at` or `seq` is bulk, not read — rebuilding 100 books as of a time
 * takes ~200 ms, and counted as reads it would move the read latency signal trading reads are
 * throttled by.
 */
export function requestClass(method: string, template: string, query?: URLSearchParams): RequestClass {
  if (query !== undefined && AS_OF_TEMPLATES.has(template) && (query.has('at') || query.has('seq'))) return 'bulk';
  return CLASSES.get(`${method} ${template}`) ?? 'control';
}
