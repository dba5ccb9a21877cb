/**
 * The replicated auth state: tokens (by hash) and roles, changed only by `Op.Auth` entries and
 * stored under reserved keys in the same WriteBatch as everything else, so snapshots, restarts
 * and every replica agree on who may do what.
 *
 *   \0auth/t/<id>        → TokenRecord (JSON)
 *   \0auth/r/<name>      → Role (JSON)
 *   \0auth/bootstrapped  → "1" once the initial admin token was applied: it is applied at most
 *                          once in the cluster's life, so a revoked initial token never returns.
 *
 * Changes are checked again when applied (limits, referenced roles), deterministically from the
 * state being built: every replica reaches the same answer.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Engine, EngineOp } from '../native';
import { scanPrefix } from '../market/state';
import { type ErrorCode, QuorumError } from '../errors';
import { ADMIN_ROLE, type Role, ROLES_MAX, type TokenRecord, TOKENS_MAX, digestToken } from './model';
import type { Principal } from './guard';

const P = '\u0000auth/';
const TOKEN_P = `${P}t/`;
const ROLE_P = `${P}r/`;
const BOOTSTRAPPED = `${P}bootstrapped`;

/** One change, as carried by an `Op.Auth` command (its key is the action, its value the JSON rest). */
export type AuthChange =
  | { action: 'bootstrap'; id: string; hash: string; atMs: number }
  | { action: 'token.put'; token: TokenRecord }
  | { action: 'token.delete'; id: string }
  | { action: 'role.put'; role: Role }
  | { action: 'role.delete'; name: string };

export type AuthResult = { kind: 'auth'; ok: true } | { kind: 'auth'; ok: false; code: ErrorCode; message: string };

const OK: AuthResult = { kind: 'auth', ok: true };
const refuse = (code: ErrorCode, message: string): AuthResult => ({ kind: 'auth', ok: false, code, message });

export class AuthState {
  private tokens = new Map<string, TokenRecord>();
  private roles = new Map<string, Role>();
  private bootstrapped = false;
  /** By token id: its hash as bytes and its principal, built on first use and dropped on any change. */
  private readonly resolved = new Map<string, { hash: Buffer; principal: Principal }>();

  /** Whether any admin can exist yet: until then an auth-enforcing node answers 503. */
  get initialized(): boolean {
    return this.bootstrapped || this.tokens.size > 0;
  }

  /**
   * Replaces the tokens and roles with what `engine` holds: read whole, then swapped in without
   * a pause, so a request checked while a snapshot installs never finds the tables half empty
   * (a valid token answered 401).
   */
  async load(engine: Engine): Promise<void> {
    const tokens = new Map<string, TokenRecord>();
    const roles = new Map<string, Role>();
    for await (const [, v] of scanPrefix(engine, TOKEN_P)) {
      const rec = JSON.parse(v.toString('utf8')) as TokenRecord;
      tokens.set(rec.id, rec);
    }
    for await (const [, v] of scanPrefix(engine, ROLE_P)) {
      const role = JSON.parse(v.toString('utf8')) as Role;
      roles.set(role.name, role);
    }
    this.tokens = tokens;
    this.roles = roles;
    this.resolved.clear();
    this.bootstrapped = Boolean(engine.get(BOOTSTRAPPED));
  }

  /** Applies one change, adding its engine writes to `ops`. */
  apply(change: AuthChange, ops: EngineOp[]): AuthResult {
    const result = this.decide(change, ops);
    if (result.ok) this.resolved.clear();
    return result;
  }

  private decide(change: AuthChange, ops: EngineOp[]): AuthResult {
    switch (change.action) {
      case 'bootstrap': {
        if (this.bootstrapped) return refuse('auth_bootstrapped', 'the initial admin token was applied before (once per cluster)');
        this.bootstrapped = true;
        ops.push({ op: 'put', key: BOOTSTRAPPED, value: Buffer.from('1') });
        return this.putToken({ id: change.id, hash: change.hash, subject: 'admin', roles: [ADMIN_ROLE.name], createdMs: change.atMs }, ops);
      }
      case 'token.put':
        return this.putToken(change.token, ops);
      case 'token.delete':
        if (!this.tokens.delete(change.id)) return refuse('token_not_found', `no token ${change.id}`);
        ops.push({ op: 'delete', key: TOKEN_P + change.id });
        return OK;
      case 'role.put':
        if (!this.roles.has(change.role.name) && this.roles.size >= ROLES_MAX) return refuse('invalid_role', `at most ${ROLES_MAX} roles`);
        this.roles.set(change.role.name, change.role);
        ops.push({ op: 'put', key: ROLE_P + change.role.name, value: Buffer.from(JSON.stringify(change.role)) });
        return OK;
      case 'role.delete': {
        if (!this.roles.has(change.name)) return refuse('role_not_found', `no role ${JSON.stringify(change.name)}`);
        const user = [...this.tokens.values()].find((t) => t.roles.includes(change.name));
        if (user) return refuse('role_in_use', `role ${JSON.stringify(change.name)} is held by token ${user.id} (${user.subject}): revoke it first`);
        this.roles.delete(change.name);
        ops.push({ op: 'delete', key: ROLE_P + change.name });
        return OK;
      }
      default:
        throw new QuorumError('COMMAND_INVALID', `unknown auth action ${JSON.stringify((change as { action: unknown }).action)}`);
    }
  }

  private putToken(rec: TokenRecord, ops: EngineOp[]): AuthResult {
    if (this.tokens.has(rec.id)) return refuse('invalid_token', `a token with id ${rec.id} exists`);
    if (this.tokens.size >= TOKENS_MAX) return refuse('invalid_token', `at most ${TOKENS_MAX} tokens`);
    const missing = rec.roles.find((r) => r !== ADMIN_ROLE.name && !this.roles.has(r));
    if (missing !== undefined) return refuse('role_not_found', `no role ${JSON.stringify(missing)}`);
    this.tokens.set(rec.id, rec);
    ops.push({ op: 'put', key: TOKEN_P + rec.id, value: Buffer.from(JSON.stringify(rec)) });
    return OK;
  }

  /** Who holds `token`, or undefined (unknown or revoked). The hash is compared in constant time. */
  authenticate(token: string): Principal | undefined {
    const { id, hash } = digestToken(token);
    const rec = this.tokens.get(id);
    if (!rec) return undefined;
    let entry = this.resolved.get(id);
    if (!entry) {
      const roles = rec.roles.map((r) => (r === ADMIN_ROLE.name ? ADMIN_ROLE : this.roles.get(r))).filter((r): r is Role => r !== undefined);
      const principal = { subject: rec.subject, tokenId: id, admin: roles.some((r) => r.admin), permissions: roles.flatMap((r) => r.permissions) };
      this.resolved.set(id, (entry = { hash: Buffer.from(rec.hash, 'hex'), principal }));
    }
    return timingSafeEqual(entry.hash, hash) ? entry.principal : undefined;
  }

  listTokens(): Omit<TokenRecord, 'hash'>[] {
    return [...this.tokens.values()].map(({ id, subject, roles, createdMs }) => ({ id, subject, roles, createdMs }));
  }

  listRoles(): Role[] {
    return [ADMIN_ROLE, ...[...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : 1))];
  }
}
