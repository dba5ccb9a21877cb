/**
 * A request's permissions, as the handlers ask for them: every key a request reads or writes
 * (each key of a txn, multi-get or batch), every instrument, admin operations, and what a scan
 * or a watch may see. With auth off every request carries `OPEN_GUARD`, which allows all.
 */
import { QuorumError } from '../errors';
import type { Access, Permission, PermissionKind } from './model';

export interface Guard {
  /** Who is asking (undefined with auth off). */
  readonly subject?: string;
  /** Throws `permission_denied` unless `name` (a key or an instrument) may be accessed so. */
  check(kind: PermissionKind, name: string, access: Access): void;
  /** Throws `permission_denied` unless the caller holds the admin role. */
  admin(): void;
  /**
   * What a read of everything starting with `prefix` may see: undefined when all of it, else a
   * filter over names. Throws `permission_denied` when nothing under `prefix` is readable.
   */
  visible(kind: PermissionKind, prefix: string): ((name: string) => boolean) | undefined;
}

export const OPEN_GUARD: Guard = Object.freeze({
  check: () => undefined,
  admin: () => undefined,
  visible: () => undefined,
});

const NOUN: Record<PermissionKind, string> = { kv: 'key', md: 'instrument' };

export interface Principal {
  subject: string;
  /** The token's id (its hash's first bytes), for logs. */
  tokenId: string;
  admin: boolean;
  permissions: Permission[];
}

export class PrincipalGuard implements Guard {
  constructor(readonly principal: Principal) {}

  private get p(): Principal {
    return this.principal;
  }

  get subject(): string {
    return this.p.subject;
  }

  check(kind: PermissionKind, name: string, access: Access): void {
    for (const g of this.p.permissions) {
      if (g.kind === kind && name.startsWith(g.prefix) && (access === 'read' || g.access === 'readwrite')) return;
    }
    throw this.denied(kind, name, access);
  }

  admin(): void {
    if (!this.p.admin) throw new QuorumError('permission_denied', `"${this.p.subject}" does not hold the admin role`, { details: { required: 'admin' } });
  }

  visible(kind: PermissionKind, prefix: string): ((name: string) => boolean) | undefined {
    const grants = this.p.permissions.filter((g) => g.kind === kind);
    if (grants.some((g) => prefix.startsWith(g.prefix))) return undefined;
    const narrower = grants.filter((g) => g.prefix.startsWith(prefix)).map((g) => g.prefix);
    if (narrower.length === 0) throw this.denied(kind, prefix, 'read');
    return (name) => narrower.some((p) => name.startsWith(p));
  }

  private denied(kind: PermissionKind, name: string, access: Access): QuorumError {
    const verb = access === 'read' ? 'read' : 'write';
    return new QuorumError('permission_denied', `"${this.p.subject}" may not ${verb} the ${NOUN[kind]} prefix ${JSON.stringify(name)}`, {
      details: { kind, prefix: name, access },
    });
  }
}
