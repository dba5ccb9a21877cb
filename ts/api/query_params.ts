/**
 * The query parameters each route takes (by `METHOD template`); any other is 400
 * `invalid_query`, naming it. A misspelt parameter must not be dropped silently: a watch
 * resumed with `?fromrevision=500` would start at the present and miss every event since 500,
 * a scan with `?prefx=orders/` would list the whole keyspace. Routes under `/v1` not listed take
 * none. The unversioned routes (`/health`, `/metrics`, the dashboard's page and files) are
 * not checked: they have no parameter to misspell, and probes and browsers add their own.
 */
import { onlyParams } from './args';

const CONSISTENCY = ['consistency'];

const PARAMS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  (
    [
      ['GET /v1/kv/{key}', ['ttl', ...CONSISTENCY]],
      ['PUT /v1/kv/{key}', ['ifRevision']],
      ['DELETE /v1/kv/{key}', ['ifRevision']],
      ['GET /v1/kv', ['prefix', 'start', 'end', 'after', 'limit', 'reverse', 'keysOnly', 'count', ...CONSISTENCY]],
      ['DELETE /v1/kv', ['prefix', 'limit']],
      ['POST /v1/kv/get', ['layout', ...CONSISTENCY]],
      ['POST /v1/multiget', ['layout', ...CONSISTENCY]],
      ['GET /v1/watch', ['key', 'prefix', 'start', 'end', 'types', 'fromRevision']],
      ['GET /v1/cluster/members', CONSISTENCY],
      ['GET /v1/md/feeds', CONSISTENCY],
      ['GET /v1/md/instruments', ['prefix', 'after', 'limit', ...CONSISTENCY]],
      ['GET /v1/md/books/{instrument}', ['depth', 'at', 'seq', ...CONSISTENCY]],
      ['GET /v1/md/books/{instrument}/vwap', ['side', 'qty', ...CONSISTENCY]],
      ['POST /v1/md/books/top', ['at', 'seq', ...CONSISTENCY]],
      ['POST /v1/md/bars', CONSISTENCY],
      ['GET /v1/md/ticks/{instrument}', ['limit', 'afterSeq', 'from', 'to', 'kinds', 'prevailing', ...CONSISTENCY]],
      ['DELETE /v1/md/history', ['before']],
      ['GET /v1/md/bars/{instrument}', ['interval', 'from', 'to', 'limit', 'source', ...CONSISTENCY]],
      ['GET /v1/md/stream', ['instruments', 'kinds', 'depth', 'fromSeq']],
      ['GET /v1/dashboard/stream', ['book', 'depth', 'access_token']],
      ['GET /v1/auth/tokens', CONSISTENCY],
      ['GET /v1/auth/roles', CONSISTENCY],
      ['GET /v1/maintenance/hash', ['index']],
    ] as [string, string[]][]
  ).map(([route, names]) => [route, new Set(names)]),
);
const NONE: ReadonlySet<string> = new Set();

/** Refuses a parameter `METHOD template` does not take (see above). */
export function checkQuery(method: string, template: string, query: URLSearchParams): void {
  if (query.size === 0 || !template.startsWith('/v1/')) return;
  onlyParams(query, PARAMS.get(`${method} ${template}`) ?? NONE);
}
