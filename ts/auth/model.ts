/**
 * Authentication and authorization: what a token, a role and a permission are, how a token is
 * hashed, and how an API request body describing a role or a token is checked.
 *
 * A token is an opaque secret (`qkv_` + 32 random bytes, base64url, when the node makes one). The
 * replicated state holds only its SHA-256: `id` (the first 8 bytes, hex) names it in listings
 * and revocations, and the full hash is compared in constant time (`timingSafeEqual`), so
 * neither the log, a snapshot nor a backup holds a usable token.
 *
 * A role grants `read` or `readwrite` on key prefixes (`kind: "kv"`) and on instrument prefixes
 * (`kind: "md"`: market data is its own namespace), and optionally `admin` (membership, leader
 * transfer, throttling, backups, auth itself). The empty prefix is everything in its kind. The
 * role `admin` is built in: every permission and admin.
 */
import { hash as oneShotHash, randomBytes } from 'node:crypto';
import { QuorumError } from '../errors';

export type Access = 'read' | 'readwrite';
export type PermissionKind = 'kv' | 'md';

export interface Permission {
  kind: PermissionKind;
  prefix: string;
  access: Access;
}

export interface Role {
  name: string;
  admin: boolean;
  permissions: Permission[];
}

export interface TokenRecord {
  id: string;
  /** SHA-256 of the token, hex. */
  hash: string;
  subject: string;
  roles: string[];
  /** The proposer's clock when the token was created (ms since the epoch). */
  createdMs: number;
}

export const ADMIN_ROLE: Role = Object.freeze({ name: 'admin', admin: true, permissions: [{ kind: 'kv', prefix: '', access: 'readwrite' }, { kind: 'md', prefix: '', access: 'readwrite' }] }) as Role;

/** Bounds of the replicated auth state (each change is one small Raft entry). */
export const ROLES_MAX = 1024;
export const TOKENS_MAX = 10_000;
export const PERMISSIONS_PER_ROLE_MAX = 256;
export const ROLES_PER_TOKEN_MAX = 32;
const NAME_BYTES_MAX = 128;
const PREFIX_BYTES_MAX = 4096;
/** A shorter secret could be guessed; the node's own tokens are 47 characters. */
export const TOKEN_CHARS_MIN = 20;
const TOKEN_CHARS_MAX = 512;

export interface TokenDigest {
  id: string;
  hash: Buffer;
}

/** On every authenticated request: the one-shot `crypto.hash` (Node ≥ 20.12) costs less than a Hash object. */
export function digestToken(token: string): TokenDigest {
  const hash = oneShotHash('sha256', token, 'buffer') as Buffer;
  return { id: hash.toString('hex', 0, 8), hash };
}

/** A fresh random token (never stored: only its digest is). */
export function newToken(): string {
  return `qkv_${randomBytes(32).toString('base64url')}`;
}

/** A token as given by an operator (the initial admin token file): printable, long enough. */
export function checkTokenText(token: string, what: string): string {
  const trimmed = token.trim();
  if (trimmed.length < TOKEN_CHARS_MIN || trimmed.length > TOKEN_CHARS_MAX || !/^[\x21-\x7e]+$/.test(trimmed)) {
    throw new QuorumError('invalid_token', `${what} must be ${TOKEN_CHARS_MIN}..${TOKEN_CHARS_MAX} printable ASCII characters without spaces`);
  }
  return trimmed;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A role or subject name: 1..128 bytes of letters, digits and `._-:@`. */
export function checkName(name: unknown, what: string, code: 'invalid_role' | 'invalid_token'): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._:@-]+$/.test(name) || name.length > NAME_BYTES_MAX) {
    throw new QuorumError(code, `${what} must be 1..${NAME_BYTES_MAX} characters of letters, digits and ._-:@`);
  }
  return name;
}

function checkPermission(p: unknown, i: number): Permission {
  if (!isRecord(p)) throw new QuorumError('invalid_role', `permissions[${i}] must be an object {prefix, access, kind?}`);
  const kind = p.kind ?? 'kv';
  if (kind !== 'kv' && kind !== 'md') throw new QuorumError('invalid_role', `permissions[${i}].kind must be "kv" (keys) or "md" (instruments)`);
  if (typeof p.prefix !== 'string' || Buffer.byteLength(p.prefix) > PREFIX_BYTES_MAX || p.prefix.startsWith('\u0000')) {
    throw new QuorumError('invalid_role', `permissions[${i}].prefix must be a string of at most ${PREFIX_BYTES_MAX} bytes ("" is every ${kind === 'kv' ? 'key' : 'instrument'})`);
  }
  if (p.access !== 'read' && p.access !== 'readwrite') throw new QuorumError('invalid_role', `permissions[${i}].access must be "read" or "readwrite"`);
  for (const extra of Object.keys(p)) if (!['kind', 'prefix', 'access'].includes(extra)) throw new QuorumError('invalid_role', `permissions[${i}] has an unknown field ${JSON.stringify(extra)}`);
  return { kind, prefix: p.prefix, access: p.access };
}

/** `PUT /v1/auth/roles/{name}` body: `{ "admin"?: bool, "permissions": [{kind?, prefix, access}] }`. */
export function parseRole(name: string, body: unknown): Role {
  checkName(name, 'the role name', 'invalid_role');
  if (name === ADMIN_ROLE.name) throw new QuorumError('role_builtin', 'the role "admin" is built in and cannot be changed');
  if (!isRecord(body)) throw new QuorumError('invalid_role', 'the body must be {"permissions":[...], "admin"?: bool}');
  for (const extra of Object.keys(body)) if (!['permissions', 'admin'].includes(extra)) throw new QuorumError('invalid_role', `the body has an unknown field ${JSON.stringify(extra)}`);
  const list = body.permissions ?? [];
  if (!Array.isArray(list) || list.length > PERMISSIONS_PER_ROLE_MAX) throw new QuorumError('invalid_role', `permissions must be a list of at most ${PERMISSIONS_PER_ROLE_MAX}`);
  if (body.admin !== undefined && typeof body.admin !== 'boolean') throw new QuorumError('invalid_role', 'admin must be true or false');
  return { name, admin: body.admin === true, permissions: list.map(checkPermission) };
}

/** `POST /v1/auth/tokens` body: `{ "subject": "...", "roles": ["..."] }`. */
export function parseTokenRequest(body: unknown): { subject: string; roles: string[] } {
  if (!isRecord(body)) throw new QuorumError('invalid_token', 'the body must be {"subject":"...","roles":["..."]}');
  for (const extra of Object.keys(body)) if (!['subject', 'roles'].includes(extra)) throw new QuorumError('invalid_token', `the body has an unknown field ${JSON.stringify(extra)}`);
  const subject = checkName(body.subject, 'subject', 'invalid_token');
  const roles = body.roles;
  if (!Array.isArray(roles) || roles.length === 0 || roles.length > ROLES_PER_TOKEN_MAX) throw new QuorumError('invalid_token', `roles must be a list of 1..${ROLES_PER_TOKEN_MAX} role names`);
  return { subject, roles: [...new Set(roles.map((r, i) => checkName(r, `roles[${i}]`, 'invalid_token')))] };
}
