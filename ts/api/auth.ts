/**
 * Authentication of every request (with `--auth on`) and the auth admin API:
 *
 *   GET    /v1/auth/whoami                    → {"auth":"on","subject","admin","permissions"} (any token)
 *   POST   /v1/auth/tokens {"subject","roles"} → 201 {"token","id","subject","roles"} (the token is shown once)
 *   GET    /v1/auth/tokens                    → {"tokens":[{"id","subject","roles","createdMs"}]}
 *   DELETE /v1/auth/tokens/{id}               → {"revoked": id}
 *   GET    /v1/auth/roles                     → {"roles":[{"name","admin","permissions"}]}
 *   PUT    /v1/auth/roles/{name} {"permissions":[{"kind"?,"prefix","access"}],"admin"?} → {"role"}
 *   DELETE /v1/auth/roles/{name}              → {"deleted": name} (409 role_in_use while a token holds it)
 *
 * Every change but whoami is admin-only and goes through the log, so each node enforces the same
 * rules once it has applied it (a revocation is in force on a node from the entry it applies;
 * streams opened before it keep running, as etcd's watches do).
 *
 * Tokens travel as `Authorization: Bearer <token>`; the dashboard's event stream, which a
 * browser's EventSource opens without headers, may carry it as `?access_token=` (RFC 6750 §2.3).
 */
import { QuorumError, UnavailableError } from '../errors';
import { type Guard, OPEN_GUARD, PrincipalGuard } from '../auth/guard';
import { checkName, digestToken, newToken, parseRole, parseTokenRequest } from '../auth/model';
import type { AuthChange } from '../auth/state';
import { Op } from '../node/commands';
import type { RaftNode } from '../node/raft_node';
import { parseJson } from './args';
import type { ApiContext } from './context';
import type { Req, Target } from './http';
import { barrier, unexpected } from './kv';
import type { Reply } from './reply';

/** Who may use a route: anyone, any valid token (then per key), or admins. */
export type RouteAccess = 'public' | 'user' | 'admin';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="quorumkv"' };
const QUERY_TOKEN_TEMPLATES = new Set(['/v1/dashboard/stream']);

/** Routes anyone may use with auth on (liveness, scraping, the dashboard's static page). */
const PUBLIC_ROUTES = new Set(['/health', '/metrics', '/dashboard', '/dashboard/{file}']);
/** Operations that need the admin role ("METHOD template"); every other route needs a token and checks its keys. */
const ADMIN_ROUTES = new Set([
  'POST /v1/cluster/leader',
  'POST /v1/cluster/members',
  'DELETE /v1/cluster/members/{id}',
  'POST /v1/cluster/members/{id}/promote',
  'POST /v1/monitor/throttle',
  'POST /v1/test/wal-stall',
  'GET /v1/auth/tokens',
  'POST /v1/auth/tokens',
  'DELETE /v1/auth/tokens/{id}',
  'GET /v1/auth/roles',
  'PUT /v1/auth/roles/{name}',
  'DELETE /v1/auth/roles/{name}',
  'GET /v1/backups',
  'POST /v1/backups',
  'POST /v1/maintenance/defrag',
  'GET /v1/maintenance/hash',
  'POST /v1/maintenance/hash',
]);

function routeAccess(method: string, template: string): RouteAccess {
  if (PUBLIC_ROUTES.has(template)) return 'public';
  return ADMIN_ROUTES.has(`${method} ${template}`) ? 'admin' : 'user';
}

/** The guard for one request to `method template`; throws 401 / 403 / 503 (auth state not initialized yet). */
export function authenticate(ctx: ApiContext, req: Req, target: Target, method: string, template: string): Guard {
  // With auth off the route's policy is not even looked up: nothing on the hot path.
  if (!ctx.authEnabled) return OPEN_GUARD;
  const access = routeAccess(method, template);
  if (access === 'public') return OPEN_GUARD;
  const header = req.headers.authorization;
  let token: string | undefined;
  if (typeof header === 'string' && /^bearer /i.test(header)) token = header.slice(7).trim();
  else if (QUERY_TOKEN_TEMPLATES.has(template)) token = target.query.get('access_token') ?? undefined;
  const auth = ctx.node.auth;
  if (!auth.initialized) throw new UnavailableError('auth is on and the initial admin token is not applied yet; retry', 'unavailable');
  if (!token) throw new QuorumError('unauthenticated', 'this node requires a token: send "Authorization: Bearer <token>"', { headers: CHALLENGE });
  const principal = auth.authenticate(token);
  if (!principal) throw new QuorumError('unauthenticated', 'the token is unknown or revoked', { headers: { 'www-authenticate': 'Bearer realm="quorumkv", error="invalid_token"' } });
  const guard = new PrincipalGuard(principal);
  if (access === 'admin') guard.admin();
  return guard;
}

async function change(node: RaftNode, c: AuthChange): Promise<void> {
  const { action, ...rest } = c;
  const result = await node.propose({ op: Op.Auth, key: action, value: Buffer.from(JSON.stringify(rest)) });
  if (result.kind !== 'auth') throw unexpected(result.kind);
  if (!result.ok) throw new QuorumError(result.code, result.message);
}

export function whoami(ctx: ApiContext, target: Target): Reply {
  const p = target.guard instanceof PrincipalGuard ? target.guard.principal : undefined;
  if (!ctx.authEnabled || !p) return { body: { auth: 'off' } };
  return { body: { auth: 'on', subject: p.subject, tokenId: p.tokenId, admin: p.admin, permissions: p.permissions } };
}

export async function createToken(node: RaftNode, body: Buffer): Promise<Reply> {
  const { subject, roles } = parseTokenRequest(parseJson(body));
  const token = newToken();
  const { id, hash } = digestToken(token);
  await change(node, { action: 'token.put', token: { id, hash: hash.toString('hex'), subject, roles, createdMs: Date.now() } });
  return { status: 201, body: { token, id, subject, roles } };
}

export async function listTokens(node: RaftNode, query: URLSearchParams): Promise<Reply> {
  await barrier(node, query);
  return { body: { tokens: node.auth.listTokens() } };
}

export async function revokeToken(node: RaftNode, id: string): Promise<Reply> {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new QuorumError('invalid_token', 'a token id is 16 hex digits (see GET /v1/auth/tokens)');
  await change(node, { action: 'token.delete', id });
  return { body: { revoked: id } };
}

export async function listRoles(node: RaftNode, query: URLSearchParams): Promise<Reply> {
  await barrier(node, query);
  return { body: { roles: node.auth.listRoles() } };
}

export async function putRole(node: RaftNode, name: string, body: Buffer): Promise<Reply> {
  const role = parseRole(decodeURIComponent(name), parseJson(body));
  await change(node, { action: 'role.put', role });
  return { body: { role } };
}

export async function deleteRole(node: RaftNode, rawName: string): Promise<Reply> {
  const name = checkName(decodeURIComponent(rawName), 'the role name', 'invalid_role');
  if (name === 'admin') throw new QuorumError('role_builtin', 'the role "admin" is built in and cannot be deleted');
  await change(node, { action: 'role.delete', name });
  return { body: { deleted: name } };
}

/** Proposes the initial admin token (a no-op refusal if one was applied before). */
export async function bootstrapAdmin(node: RaftNode, token: string): Promise<'applied' | 'done-before'> {
  const { id, hash } = digestToken(token);
  try {
    await change(node, { action: 'bootstrap', id, hash: hash.toString('hex'), atMs: Date.now() });
    return 'applied';
  } catch (err) {
    if ((err as QuorumError).code === 'auth_bootstrapped') return 'done-before';
    throw err;
  }
}
