/**
 * The routes of one node's JSON API, matched on path, then on method: a path that names a
 * resource answers 405 with an `Allow` header for any other method. Batched operations sit on
 * paths that cannot be keys, except the old `POST /v1/kv/get` (multi-get), which is matched by
 * method first: `GET|PUT|DELETE /v1/kv/get` reach the key `get` like any other key.
 */
import { QuorumError } from '../errors';
import { keyFromPath, memberId, parseJson } from './args';
import { cluster, health, transferLeader } from './cluster';
import type { ApiContext } from './context';
import { parseTarget, readBody, type Req, type Res, sendError, sendJson, sendRaw, type Target } from './http';
import { del, deletePrefix, get, multiGet, put } from './kv';
import { scan } from './kv_range';
import { addMember, listMembers, promoteMember, removeMember } from './members';
import type { Reply } from './reply';
import { txn } from './txn';
import { batch } from './batch';
import { openSession } from './exactly_once';
import { watch } from './watch';
import { listInstruments } from './md_instruments';
import { mdStream } from './md_stream';
import { ingestStream } from './md_ingest_stream';
import { book, feeds, ingest, purgeHistory, ticks, vwap } from './market';
import { top } from './md_top';
import { bars, barsOfMany } from './md_bars';
import { patch } from './kv_patch';
import { controlReplay, listReplays, openReplay } from './md_replay';
import { metrics, monitor, setThrottle, walStall } from './health';
import { dashboardFile, dashboardPage, dashboardStream } from './dashboard';
import { requestClass } from './route_classes';
import { checkQuery } from './query_params';
import type { RequestClass, ThrottledClass } from '../monitor/classes';
import { authenticate, createToken, deleteRole, listRoles, listTokens, putRole, revokeToken, whoami } from './auth';
import type { Access } from '../auth/model';
import { backupStatus, createBackup } from './backups';
import { defrag, hashState, stateHash } from './maintenance';

export type { ApiContext } from './context';

type Handler = (ctx: ApiContext, target: Target, body: Buffer) => Reply | Promise<Reply>;
type Methods = Partial<Record<string, Handler>>;
/** A matched route: its template (the metrics' label: never a raw key) and its methods. */
interface Route {
  template: string;
  methods: Methods;
}

const KV_PREFIX = '/v1/kv/';
const BOOKS_PREFIX = '/v1/md/books/';
const TICKS_PREFIX = '/v1/md/ticks/';
const BARS_PREFIX = '/v1/md/bars/';
const MEMBERS_PREFIX = '/v1/cluster/members/';
const REPLAY_PREFIX = '/v1/md/replay/';
const REPLAY_ACTIONS = new Set(['pause', 'resume', 'seek']);
const DASHBOARD_PREFIX = '/dashboard/';

const FIXED: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ['/health', { GET: (ctx) => health(ctx) }],
  ['/v1/cluster', { GET: (ctx) => cluster(ctx) }],
  ['/v1/cluster/leader', { POST: (ctx, _t, body) => transferLeader(ctx, body) }],
  ['/v1/cluster/members', { GET: (ctx, t) => listMembers(ctx, t.query), POST: (ctx, _t, body) => addMember(ctx, parseJson(body)) }],
  ['/v1/kv', { GET: (ctx, t) => scan(ctx.node, t), DELETE: (ctx, t) => deletePrefix(ctx.node, t) }],
  ['/v1/multiget', { POST: (ctx, t, body) => multiGet(ctx.node, t, body) }],
  ['/v1/txn', { POST: (ctx, t, body) => txn(ctx.node, body, t) }],
  ['/v1/batch', { POST: (ctx, t, body) => batch(ctx.node, body, t) }],
  ['/v1/sessions', { POST: (ctx) => openSession(ctx.node) }],
  ['/v1/md/events', { POST: (ctx, t, body) => ingest(ctx.node, t, body) }],
  ['/v1/md/bars', { POST: (ctx, t, body) => barsOfMany(ctx.node, t, body) }],
  ['/v1/md/feeds', { GET: (ctx, t) => feeds(ctx.node, t) }],
  ['/v1/md/instruments', { GET: (ctx, t) => listInstruments(ctx.node, t) }],
  ['/v1/md/history', { DELETE: (ctx, t) => purgeHistory(ctx.node, t) }],
  ['/v1/watch', { GET: (ctx, t) => watch(ctx.node, t, t.accept) }],
  ['/v1/md/stream', { GET: (ctx, t) => mdStream(ctx.node, t) }],
  ['/v1/md/ingest', { POST: (ctx, t) => ingestStream(ctx.node, t.req!, t.guard) }],
  ['/v1/md/replay', { GET: (ctx) => listReplays(ctx.node), POST: (ctx, t, body) => openReplay(ctx.node, t, body) }],
  ['/metrics', { GET: (ctx) => metrics(ctx) }],
  ['/v1/monitor', { GET: (ctx) => monitor(ctx) }],
  ['/v1/monitor/throttle', { POST: (ctx, _t, body) => setThrottle(ctx, body) }],
  ['/dashboard', { GET: (ctx) => dashboardPage(ctx) }],
  ['/v1/dashboard/stream', { GET: (ctx, t) => dashboardStream(ctx, t) }],
  ['/v1/auth/whoami', { GET: (ctx, t) => whoami(ctx, t) }],
  ['/v1/auth/tokens', { GET: (ctx, t) => listTokens(ctx.node, t.query), POST: (ctx, _t, body) => createToken(ctx.node, body) }],
  ['/v1/auth/roles', { GET: (ctx, t) => listRoles(ctx.node, t.query) }],
  ['/v1/backups', { GET: (ctx) => backupStatus(ctx), POST: (ctx, _t, body) => createBackup(ctx, body) }],
  ['/v1/maintenance/defrag', { POST: (ctx, _t, body) => defrag(ctx, body) }],
  ['/v1/maintenance/hash', { GET: (ctx, t) => stateHash(ctx, t.query), POST: (ctx, _t, body) => hashState(ctx, body) }],
]);

/** Only on nodes started with test faults allowed (`QKV_TEST_WAL_FAULTS=stall`). */
const TEST_ROUTES: ReadonlyMap<string, Methods> = new Map<string, Methods>([['/v1/test/wal-stall', { POST: (ctx, _t, body) => walStall(ctx, body) }]]);

/** The key a `/v1/kv/{key}` request names, once the caller may access it so. */
function pathKey(t: Target, access: Access): string {
  const key = keyFromPath(t.path.slice(KV_PREFIX.length));
  t.guard.check('kv', key, access);
  return key;
}

const KEY_METHODS: Methods = {
  GET: (ctx, t) => get(ctx.node, pathKey(t, 'read'), t.query),
  PUT: (ctx, t, body) => put(ctx.node, pathKey(t, 'readwrite'), body, t),
  DELETE: (ctx, t) => del(ctx.node, pathKey(t, 'readwrite'), t),
  PATCH: (ctx, t, body) => patch(ctx.node, pathKey(t, 'readwrite'), body, t),
};
/** The old multi-get path: POST only (a key takes no POST), every other method is the key's. */
const KV_GET_METHODS: Methods = { ...KEY_METHODS, POST: (ctx, t, body) => multiGet(ctx.node, t, body) };
const AUTH_TOKENS_PREFIX = '/v1/auth/tokens/';
const AUTH_ROLES_PREFIX = '/v1/auth/roles/';

/** The route of `path`, or undefined when none has it. */
function routeOf(ctx: ApiContext, path: string, method: string): Route | undefined {
  const fixed = FIXED.get(path) ?? (ctx.health.cfg.testFaults ? TEST_ROUTES.get(path) : undefined);
  if (fixed) return { template: path, methods: fixed };
  if (path === `${KV_PREFIX}get`) return { template: method === 'POST' ? path : '/v1/kv/{key}', methods: KV_GET_METHODS };
  if (path.startsWith(KV_PREFIX)) return { template: '/v1/kv/{key}', methods: KEY_METHODS };
  if (path.startsWith(MEMBERS_PREFIX)) return memberRoute(path.slice(MEMBERS_PREFIX.length).split('/'));
  if (path.startsWith(BOOKS_PREFIX)) return bookRoute(path.slice(BOOKS_PREFIX.length).split('/'));
  if (path.startsWith(REPLAY_PREFIX)) return replayRoute(path.slice(REPLAY_PREFIX.length).split('/'));
  if (path.startsWith(AUTH_TOKENS_PREFIX)) return { template: '/v1/auth/tokens/{id}', methods: { DELETE: (ctx, t) => revokeToken(ctx.node, t.path.slice(AUTH_TOKENS_PREFIX.length)) } };
  if (path.startsWith(AUTH_ROLES_PREFIX)) {
    const name = path.slice(AUTH_ROLES_PREFIX.length);
    return { template: '/v1/auth/roles/{name}', methods: { PUT: (ctx, _t, body) => putRole(ctx.node, name, body), DELETE: (ctx) => deleteRole(ctx.node, name) } };
  }
  if (path.startsWith(DASHBOARD_PREFIX)) return { template: '/dashboard/{file}', methods: { GET: (ctx, t) => dashboardFile(ctx, t.path.slice(DASHBOARD_PREFIX.length)) } };
  if (path.startsWith(TICKS_PREFIX) && path.length > TICKS_PREFIX.length && !path.slice(TICKS_PREFIX.length).includes('/')) {
    return { template: '/v1/md/ticks/{instrument}', methods: { GET: (ctx, t) => ticks(ctx.node, t, t.path.slice(TICKS_PREFIX.length)) } };
  }
  if (path.startsWith(BARS_PREFIX) && path.length > BARS_PREFIX.length && !path.slice(BARS_PREFIX.length).includes('/')) {
    return { template: '/v1/md/bars/{instrument}', methods: { GET: (ctx, t) => bars(ctx.node, t, t.path.slice(BARS_PREFIX.length)) } };
  }
  return undefined;
}

/** `/v1/md/books/{instrument}[/vwap]`; POST `/v1/md/books/top` (a GET there is the instrument "top"). */
function bookRoute(parts: string[]): Route | undefined {
  const [instrument, action] = parts;
  if (!instrument) return undefined;
  if (parts.length === 1) {
    const methods: Methods = { GET: (ctx, t) => book(ctx.node, t, instrument) };
    if (instrument === 'top') methods.POST = (ctx, t, body) => top(ctx.node, t, body);
    return { template: instrument === 'top' ? '/v1/md/books/top' : '/v1/md/books/{instrument}', methods };
  }
  if (parts.length === 2 && action === 'vwap') return { template: '/v1/md/books/{instrument}/vwap', methods: { GET: (ctx, t) => vwap(ctx.node, t, instrument) } };
  return undefined;
}

/** `POST /v1/md/replay/{id}/pause|resume|seek`. */
function replayRoute(parts: string[]): Route | undefined {
  const [id, action] = parts;
  if (parts.length !== 2 || !id || !REPLAY_ACTIONS.has(action)) return undefined;
  return { template: `/v1/md/replay/{id}/${action}`, methods: { POST: (ctx, _t, body) => controlReplay(ctx.node, id, action, body) } };
}

function memberRoute(parts: string[]): Route | undefined {
  if (parts.length === 1) return { template: '/v1/cluster/members/{id}', methods: { DELETE: (ctx) => removeMember(ctx, memberId(parts[0])) } };
  if (parts.length === 2 && parts[1] === 'promote') return { template: '/v1/cluster/members/{id}/promote', methods: { POST: (ctx) => promoteMember(ctx, memberId(parts[0])) } };
  return undefined;
}

/** The `Allow` header of a route: its methods, and HEAD wherever GET is. */
function allowed(methods: Methods): string {
  const names = Object.keys(methods);
  return (methods.GET ? [...names, 'HEAD'] : names).join(', ');
}

/** Methods whose requests carry no body here: the stream read is skipped on the hottest path. */
const BODYLESS = new Set(['GET', 'DELETE', 'HEAD']);
/** Routes that read their request body themselves, as it streams in. */
const STREAMED_BODIES = new Set(['/v1/md/ingest']);
const EMPTY = Buffer.alloc(0);

/**
 * One request: route, admission (throttling, before the body is read or anything proposed),
 * handler, answer; then the limiter slot, the latency signal and the metrics are settled.
 */
export async function handle(ctx: ApiContext, req: Req, res: Res): Promise<void> {
  const arrivedMs = performance.now();
  let template = 'unmatched';
  let cls: RequestClass = 'control';
  let admittedMs: number | undefined;
  try {
    const target = parseTarget(req.url);
    target.contentType = req.headers['content-type'];
    target.accept = req.headers.accept;
    target.req = req;
    // HEAD is GET without the content (RFC 9110 §9.3.2; both HTTP layers leave the body out).
    const head = req.method === 'HEAD';
    const method = head ? 'GET' : (req.method ?? 'GET');
    const route = routeOf(ctx, target.path, method);
    if (!route) throw new QuorumError('route_not_found', `no route for ${method} ${target.path}`);
    const handler = route.methods[method];
    if (!handler) {
      const allow = allowed(route.methods);
      throw new QuorumError('method_not_allowed', `${req.method} is not allowed on ${target.path} (use ${allow})`, { headers: { allow } });
    }
    template = route.template;
    // Before admission: a request without a valid token takes no throttling slot.
    target.guard = authenticate(ctx, req, target, method, template);
    checkQuery(method, template, target.query);
    cls = requestClass(method, template, target.query);
    const waiting = ctx.health.admit(cls);
    if (waiting && !(await waiting)) {
      const shed = ctx.health.shedAnswer(cls as ThrottledClass);
      sendRaw(res, shed.status, shed.text, shed.headers);
      return;
    }
    admittedMs = performance.now();
    const body = BODYLESS.has(method) || STREAMED_BODIES.has(target.path) ? EMPTY : await readBody(req);
    const reply = await handler(ctx, target, body);
    // A stream's HEAD: its status only (nothing is opened: streams register when they start).
    if (reply.stream && head) sendRaw(res, reply.status ?? 200, '');
    else if (reply.stream) reply.stream(res);
    else if (reply.raw !== undefined) sendRaw(res, reply.status ?? 200, reply.raw, reply.headers);
    else sendJson(res, reply.status ?? 200, reply.body, reply.headers);
  } catch (err) {
    sendError(res, err);
  } finally {
    ctx.health.answered(cls, template, res.statusCode, arrivedMs, admittedMs);
  }
}
