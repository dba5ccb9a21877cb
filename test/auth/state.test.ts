/**
 * The replicated auth state through the applier (Op.Auth entries): bootstrap once, tokens by
 * hash, roles and their grants, refusals decided at apply time, and the state surviving a reload
 * from the engine. And the guard's answers for keys, instruments, scans and admin.
 */
import test, { type ExecutionContext } from 'ava';
import { Applier, type ApplyResult } from '../../ts/node/applier';
import { encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import { Engine } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { digestToken, newToken, parseRole, parseTokenRequest } from '../../ts/auth/model';
import { AuthState, type AuthChange } from '../../ts/auth/state';
import { PrincipalGuard } from '../../ts/auth/guard';
import { QuorumError } from '../../ts/errors';
import { tempDir } from '../helpers/tmp';

function harness(t: ExecutionContext) {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  t.teardown(() => engine.close());
  const answers: ApplyResult[] = [];
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), (results) => answers.push(...results.map((r) => r.result)), (err) => t.fail(err.message));
  let index = 0;
  const apply = async (...changes: AuthChange[]): Promise<ApplyResult[]> => {
    const from = answers.length;
    applier.push(
      changes.map(({ action, ...rest }) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand({ op: Op.Auth, key: action, value: Buffer.from(JSON.stringify(rest)), origin: 1, seq: index }) })),
    );
    await applier.idle();
    return answers.slice(from);
  };
  return { engine, applier, apply };
}

const bootstrap = (token: string): AuthChange => {
  const { id, hash } = digestToken(token);
  return { action: 'bootstrap', id, hash: hash.toString('hex'), atMs: 1 };
};

const tokenPut = (token: string, subject: string, roles: string[]): AuthChange => {
  const { id, hash } = digestToken(token);
  return { action: 'token.put', token: { id, hash: hash.toString('hex'), subject, roles, createdMs: 2 } };
};

test('the initial admin token applies once; tokens authenticate by hash; state survives a reload', async (t) => {
  const h = harness(t);
  t.false(h.applier.auth.initialized);
  const admin = newToken();
  const [first, second] = await h.apply(bootstrap(admin), bootstrap(newToken()));
  t.deepEqual(first, { kind: 'auth', ok: true });
  t.like(second, { kind: 'auth', ok: false, code: 'auth_bootstrapped' });
  t.true(h.applier.auth.initialized);
  t.like(h.applier.auth.authenticate(admin), { subject: 'admin', admin: true });
  t.is(h.applier.auth.authenticate(`${admin}x`), undefined);
  t.is(h.applier.auth.authenticate(newToken()), undefined);

  const reader = newToken();
  const results = await h.apply(
    tokenPut(reader, 'alice', ['orders-reader']),
    { action: 'role.put', role: parseRole('orders-reader', { permissions: [{ prefix: 'orders/', access: 'read' }, { kind: 'md', prefix: 'AA', access: 'read' }] }) },
    tokenPut(reader, 'alice', ['orders-reader']),
  );
  t.like(results[0], { ok: false, code: 'role_not_found' }, 'a token naming a missing role is refused');
  t.like(results[1], { ok: true });
  t.like(results[2], { ok: true });
  t.like(h.applier.auth.authenticate(reader), { subject: 'alice', admin: false });
  t.like((await h.apply({ action: 'role.delete', name: 'orders-reader' }))[0], { ok: false, code: 'role_in_use' });

  // Nothing is stored as plaintext, and a fresh state loaded from the engine agrees.
  const raw = [...(await h.engine.scan({ prefix: '\u0000auth/', limit: 100 })).items].map((i) => i.value.toString()).join('\n');
  t.false(raw.includes(reader) || raw.includes(admin), 'tokens are stored only as hashes');
  const reloaded = new AuthState();
  await reloaded.load(h.engine);
  t.true(reloaded.initialized);
  t.like(reloaded.authenticate(reader), { subject: 'alice' });
  t.deepEqual(reloaded.listRoles(), h.applier.auth.listRoles());

  // Revoked: refused at once, and the initial token cannot be bootstrapped back.
  const [revoked] = await h.apply({ action: 'token.delete', id: digestToken(admin).id });
  t.like(revoked, { ok: true });
  t.is(h.applier.auth.authenticate(admin), undefined);
  t.like((await h.apply(bootstrap(admin)))[0], { ok: false, code: 'auth_bootstrapped' });
  t.is(h.applier.auth.authenticate(admin), undefined);
});

test('the guard: prefixes per kind, read vs readwrite, narrower scans filtered, admin', (t) => {
  const guard = new PrincipalGuard({
    subject: 'bob',
    tokenId: '0',
    admin: false,
    permissions: [
      { kind: 'kv', prefix: 'orders/', access: 'readwrite' },
      { kind: 'kv', prefix: 'refdata/', access: 'read' },
      { kind: 'md', prefix: 'AAPL', access: 'read' },
    ],
  });
  t.notThrows(() => guard.check('kv', 'orders/1', 'readwrite'));
  t.notThrows(() => guard.check('kv', 'refdata/x', 'read'));
  const denied = (f: () => unknown) => t.throws(f, { instanceOf: QuorumError, code: 'permission_denied' } as never) as QuorumError;
  const w = denied(() => guard.check('kv', 'refdata/x', 'readwrite'));
  t.deepEqual(w.details, { kind: 'kv', prefix: 'refdata/x', access: 'readwrite' });
  denied(() => guard.check('kv', 'orders', 'read'));
  denied(() => guard.check('md', 'orders/1', 'read'));
  denied(() => guard.check('md', 'AAPL', 'readwrite'));
  t.notThrows(() => guard.check('md', 'AAPL.X', 'read'));
  denied(() => guard.admin());
  t.is(guard.visible('kv', 'orders/2024'), undefined, 'inside a grant: everything');
  const filter = guard.visible('kv', '')!;
  t.deepEqual(['a', 'orders/1', 'refdata/2', 'zz'].filter(filter), ['orders/1', 'refdata/2']);
  denied(() => guard.visible('kv', 'secrets/'));
});

test('role and token requests are checked with the field named', (t) => {
  const bad = (f: () => unknown, code: string, text: RegExp) => {
    const err = t.throws(f) as QuorumError;
    t.is(err.code as string, code);
    t.regex(err.message, text);
  };
  bad(() => parseRole('admin', { permissions: [] }), 'role_builtin', /built in/);
  bad(() => parseRole('r', { permissions: [{ prefix: 'a', access: 'write' }] }), 'invalid_role', /access/);
  bad(() => parseRole('r', { permissions: [{ prefix: 'a', access: 'read', kind: 'x' }] }), 'invalid_role', /kind/);
  bad(() => parseRole('r', { permissions: [{ prefix: '\u0000members', access: 'read' }] }), 'invalid_role', /prefix/);
  bad(() => parseRole('bad name', {}), 'invalid_role', /role name/);
  bad(() => parseTokenRequest({ subject: 'x', roles: [] }), 'invalid_token', /roles/);
  bad(() => parseTokenRequest({ roles: ['a'] }), 'invalid_token', /subject/);
  bad(() => parseRole('r', { permisions: [{ prefix: 'a', access: 'read' }] }), 'invalid_role', /unknown field "permisions"/);
  bad(() => parseTokenRequest({ subject: 'x', roles: ['a'], ttl: 5 }), 'invalid_token', /unknown field "ttl"/);
  t.deepEqual(parseTokenRequest({ subject: 'svc', roles: ['a', 'a', 'b'] }), { subject: 'svc', roles: ['a', 'b'] });
});
