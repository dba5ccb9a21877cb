/**
 * Authentication and authorization on a real 3-node cluster started with `--auth on` and an
 * initial admin token file: 401 without or with a bad token on every non-public route, roles
 * with key and instrument prefixes enforced for every key a request touches (txn, multi-get,
 * batch, scan, watch), admin-only operations, the same rules on every node, revocation, and the
 * CLI and the client library carrying a token.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { newToken } from '../../ts/auth/model';
import { pollUntil } from '../helpers/poll';
import { openStream } from '../helpers/stream_reader';
import { tempDir } from '../helpers/tmp';
import { Proc, ProcCluster } from './procs';
import { call as callNode } from '../../ts/cli/http_client';
import { freePorts } from '../helpers/ports';
import { readFileSync } from 'node:fs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

async function call(p: Proc, token: string | undefined, method: string, path: string, body?: unknown, type = 'application/json'): Promise<Answer> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = type;
  const res = await fetch(p.url(path), { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // metrics and the dashboard page are not JSON
  }
  return { status: res.status, json, headers: res.headers };
}

/** One sample request per route (the path parameters filled in), and who may use it. */
const ROUTES: [method: string, path: string, access: 'public' | 'user' | 'admin'][] = [
  ['GET', '/health', 'public'],
  ['GET', '/metrics', 'public'],
  ['GET', '/dashboard', 'public'],
  ['GET', '/dashboard/uPlot.min.css', 'public'],
  ['GET', '/v1/cluster', 'user'],
  ['POST', '/v1/cluster/leader', 'admin'],
  ['GET', '/v1/cluster/members', 'user'],
  ['POST', '/v1/cluster/members', 'admin'],
  ['DELETE', '/v1/cluster/members/n9', 'admin'],
  ['POST', '/v1/cluster/members/n9/promote', 'admin'],
  ['GET', '/v1/kv', 'user'],
  ['GET', '/v1/kv/orders/1', 'user'],
  ['PUT', '/v1/kv/orders/1', 'user'],
  ['DELETE', '/v1/kv/orders/1', 'user'],
  ['DELETE', '/v1/kv?prefix=orders/none', 'user'],
  ['POST', '/v1/kv/get', 'user'],
  ['POST', '/v1/multiget', 'user'],
  ['POST', '/v1/txn', 'user'],
  ['POST', '/v1/batch', 'user'],
  ['POST', '/v1/sessions', 'user'],
  ['GET', '/v1/watch', 'user'],
  ['POST', '/v1/md/events', 'user'],
  ['POST', '/v1/md/ingest', 'user'],
  ['GET', '/v1/md/feeds', 'user'],
  ['GET', '/v1/md/stream', 'user'],
  ['GET', '/v1/md/books/AAPL', 'user'],
  ['POST', '/v1/md/books/top', 'user'],
  ['GET', '/v1/md/books/AAPL/vwap', 'user'],
  ['GET', '/v1/md/ticks/AAPL', 'user'],
  ['GET', '/v1/md/bars/AAPL', 'user'],
  ['DELETE', '/v1/md/history?before=1', 'admin'],
  ['GET', '/v1/md/replay', 'user'],
  ['POST', '/v1/md/replay', 'user'],
  ['POST', '/v1/md/replay/r1/pause', 'user'],
  ['GET', '/v1/monitor', 'user'],
  ['POST', '/v1/monitor/throttle', 'admin'],
  ['POST', '/v1/maintenance/defrag', 'admin'],
  ['GET', '/v1/maintenance/hash?index=1', 'admin'],
  ['POST', '/v1/maintenance/hash', 'admin'],
  ['GET', '/v1/dashboard/stream', 'user'],
  ['GET', '/v1/auth/whoami', 'user'],
  ['GET', '/v1/auth/tokens', 'admin'],
  ['POST', '/v1/auth/tokens', 'admin'],
  ['DELETE', '/v1/auth/tokens/0123456789abcdef', 'admin'],
  ['GET', '/v1/auth/roles', 'admin'],
  ['PUT', '/v1/auth/roles/x', 'admin'],
  ['DELETE', '/v1/auth/roles/x', 'admin'],
];

function cli(env: Record<string, string>, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import=tsx', MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('auth on: tokens, roles on key and instrument prefixes, admin, the same rules on every node, revocation, CLI and client', async (t) => {
  const dir = tempDir(t);
  const admin = newToken();
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${admin}\n`);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3, ['--auth', 'on', '--initial-admin-token-file', tokenFile]);
  const leader = await cluster.leader();
  const nodes = cluster.procs;
  // The initial token is proposed once a leader is known; every node serves it once applied.
  for (const p of nodes) await pollUntil(async () => (await call(p, admin, 'GET', '/v1/auth/whoami')).status === 200, `n${p.id} to apply the initial admin token`);
  t.like((await call(leader, admin, 'GET', '/v1/auth/whoami')).json, { auth: 'on', subject: 'admin', admin: true });

  // Without a token (or with an unknown one) nothing but the public routes answers.
  for (const [method, path, access] of ROUTES) {
    const anon = await call(leader, undefined, method, path);
    if (access === 'public') t.is(anon.status, 200, `${method} ${path} is public`);
    else {
      t.is(anon.status, 401, `${method} ${path} needs a token`);
      t.is(anon.json.error?.code, 'unauthenticated');
      t.regex(anon.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  }
  const forged = await call(leader, `${admin}x`, 'GET', '/v1/kv/orders/1');
  t.is(forged.status, 401);
  t.regex(forged.json.error.message, /unknown or revoked/);

  // Roles and tokens, created by the admin.
  t.is((await call(leader, admin, 'PUT', '/v1/auth/roles/trader', { permissions: [{ prefix: 'orders/', access: 'readwrite' }, { prefix: 'refdata/', access: 'read' }, { kind: 'md', prefix: 'AA', access: 'read' }] })).status, 200);
  t.is((await call(leader, admin, 'PUT', '/v1/auth/roles/feed', { permissions: [{ kind: 'md', prefix: '', access: 'readwrite' }] })).status, 200);
  t.is((await call(leader, admin, 'PUT', '/v1/auth/roles/admin', { permissions: [] })).json.error.code, 'role_builtin');
  const created = await call(leader, admin, 'POST', '/v1/auth/tokens', { subject: 'alice', roles: ['trader'] });
  t.is(created.status, 201);
  const alice = created.json.token as string;
  const feed = (await call(leader, admin, 'POST', '/v1/auth/tokens', { subject: 'feed-1', roles: ['feed'] })).json.token as string;
  t.is((await call(leader, admin, 'POST', '/v1/auth/tokens', { subject: 'x', roles: ['nope'] })).json.error.code, 'role_not_found');
  const listed = (await call(leader, admin, 'GET', '/v1/auth/tokens')).json.tokens as { id: string; subject: string }[];
  t.deepEqual(listed.map((x) => x.subject).sort(), ['admin', 'alice', 'feed-1']);
  t.false(JSON.stringify(listed).includes(alice), 'listings never hold a secret');

  // Admin-only routes refuse a user's token with 403.
  for (const [method, path] of ROUTES.filter((r) => r[2] === 'admin')) {
    const r = await call(leader, alice, method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
    t.is(r.status, 403, `${method} ${path} is admin-only`);
    t.is(r.json.error.code, 'permission_denied');
  }

  await keyRules(t, leader, admin, alice);
  await marketRules(t, leader, alice, feed);

  // Every node enforces the same replicated rules (followers forward the write, serve the read).
  for (const p of nodes) {
    t.is((await call(p, alice, 'GET', '/v1/kv/orders/1')).status, 200, `n${p.id} serves alice's read`);
    t.is((await call(p, alice, 'PUT', '/v1/kv/refdata/x', { value: 1 })).status, 403, `n${p.id} refuses alice's write`);
  }

  await toolsCarryTokens(t, leader, alice, tokenFile);

  // Revocation reaches every node; the initial token, once revoked, is gone for good.
  const aliceId = listed.find((x) => x.subject === 'alice')!.id;
  t.is((await call(leader, admin, 'DELETE', `/v1/auth/tokens/${aliceId}`)).status, 200);
  for (const p of nodes) await pollUntil(async () => (await call(p, alice, 'GET', '/v1/kv/orders/1')).status === 401, `n${p.id} to refuse a revoked token`);
  t.pass();
});

/** The CLI (flag, environment, token file) and the client library carry a token. */
async function toolsCarryTokens(t: import('ava').ExecutionContext, leader: Proc, alice: string, tokenFile: string): Promise<void> {
  const base = leader.url('');
  t.is(cli({}, 'get', 'orders/1', '--endpoint', base).status, 1);
  const viaCli = cli({ QUORUMKV_TOKEN: alice }, 'put', 'orders/cli', '{"qty":3}', '--endpoint', base);
  t.is(viaCli.status, 0, viaCli.out);
  const made = cli({}, 'auth', 'token', 'create', 'bob', '--role', 'trader', '--endpoint', base, '--token-file', tokenFile);
  t.is(made.status, 0, made.out);
  const bob = JSON.parse(made.out).token as string;
  t.is(cli({}, '--token', bob, 'get', 'orders/cli', '--endpoint', base).status, 0);
  const client = new QuorumClient({ endpoints: [base], token: bob });
  t.teardown(() => client.close());
  t.like(await client.get('orders/cli'), { value: { qty: 3 } });
  await t.throwsAsync(client.put('secrets/x', 1), { message: /may not write/ });
  // Gets of one turn share a multi-get, which a node refuses whole for one forbidden key: only
  // the forbidden keys' calls fail.
  const turn = await Promise.allSettled([client.get('orders/cli'), client.get('secrets/a'), client.get('orders/none'), client.get('secrets/b'), client.get('secrets/a')]);
  t.deepEqual(
    turn.map((r) => (r.status === 'fulfilled' ? (r.value?.value ?? null) : (r.reason as { code: string }).code)),
    [{ qty: 3 }, 'permission_denied', null, 'permission_denied', 'permission_denied'],
  );
  const anonClient = new QuorumClient({ endpoints: [base] });
  t.teardown(() => anonClient.close());
  await t.throwsAsync(anonClient.get('orders/cli'), { message: /requires a token/ });
}

/** Every key a request touches is checked; a refused request applies nothing. */
async function keyRules(t: import('ava').ExecutionContext, leader: Proc, admin: string, alice: string): Promise<void> {
  t.is((await call(leader, admin, 'PUT', '/v1/kv/refdata/x', { value: 'ref' })).status, 200);
  t.is((await call(leader, admin, 'PUT', '/v1/kv/secrets/1', { value: 's' })).status, 200);
  t.is((await call(leader, alice, 'PUT', '/v1/kv/orders/1', { value: { qty: 1 } })).status, 200);
  t.is((await call(leader, alice, 'GET', '/v1/kv/refdata/x')).status, 200);
  const denied = await call(leader, alice, 'PUT', '/v1/kv/refdata/x', { value: 'mine' });
  t.is(denied.status, 403);
  t.like(denied.json.error, { code: 'permission_denied', prefix: 'refdata/x', access: 'readwrite' });
  t.is((await call(leader, alice, 'GET', '/v1/kv/secrets/1')).status, 403);
  // A txn with one forbidden key is refused whole.
  const txn = await call(leader, alice, 'POST', '/v1/txn', { compare: [], success: [{ op: 'put', key: 'orders/2', value: 1 }, { op: 'put', key: 'secrets/2', value: 1 }] });
  t.is(txn.status, 403);
  t.is((await call(leader, admin, 'GET', '/v1/kv/orders/2')).status, 404, 'nothing of a refused txn applied');
  t.is((await call(leader, alice, 'POST', '/v1/txn', { compare: [{ key: 'secrets/1', exists: true }], success: [] })).status, 403, 'a compare reads its key');
  t.is((await call(leader, alice, 'POST', '/v1/multiget', { keys: ['orders/1', 'secrets/1'] })).status, 403);
  // Batch items are independent: the forbidden one fails alone.
  const batch = await call(leader, alice, 'POST', '/v1/batch', { ops: [{ op: 'put', key: 'orders/3', value: 3 }, { op: 'put', key: 'secrets/3', value: 3 }] });
  t.is(batch.status, 200);
  t.truthy(batch.json.results[0].revision);
  t.is(batch.json.results[1].error.code, 'permission_denied');
  t.is((await call(leader, admin, 'GET', '/v1/kv/secrets/3')).status, 404);
  // Scans and watches show only the permitted prefixes.
  const scan = await call(leader, alice, 'GET', '/v1/kv?prefix=&limit=100');
  t.deepEqual(scan.json.items.map((i: { key: string }) => i.key), ['orders/1', 'orders/3', 'refdata/x']);
  t.is((await call(leader, alice, 'GET', '/v1/kv?prefix=secrets/')).status, 403);
  t.is((await call(leader, alice, 'GET', '/v1/watch?key=secrets/1')).status, 403, 'a watch of one key needs that key');
  const watch = await openStream(leader.url('/v1/watch?prefix='), { authorization: `Bearer ${alice}` });
  t.teardown(() => watch.close());
  t.is((await call(leader, admin, 'PUT', '/v1/kv/secrets/9', { value: 9 })).status, 200);
  t.is((await call(leader, admin, 'PUT', '/v1/kv/orders/9', { value: 9 })).status, 200);
  t.like(await watch.next(), { type: 'put', key: 'orders/9' }, 'the secrets/ change before it was not shown');
  // A range delete needs readwrite on its whole prefix; a refused one deletes nothing.
  t.is((await call(leader, alice, 'DELETE', '/v1/kv?prefix=')).status, 403);
  t.is((await call(leader, alice, 'DELETE', '/v1/kv?prefix=refdata/')).status, 403);
  t.is((await call(leader, admin, 'GET', '/v1/kv/refdata/x')).status, 200, 'nothing deleted');
  t.like((await call(leader, alice, 'DELETE', '/v1/kv?prefix=orders/9')).json, { deleted: 1, more: false });
}

async function marketRules(t: import('ava').ExecutionContext, leader: Proc, alice: string, feed: string): Promise<void> {
  const line = (instrument: string, seq: number) =>
    JSON.stringify({ kind: 'delta', instrument, tsEvent: 1_000 + seq, producerId: 'feed-1', producerSeq: seq, action: 'add', side: 'bid', price: '100.5', size: 10, last: true });
  const events = [line('AAPL', 1), line('MSFT', 2)].join('\n');
  t.is((await call(leader, alice, 'POST', '/v1/md/events', events, 'application/x-ndjson')).status, 403, 'alice may only read market data');
  t.is((await call(leader, feed, 'POST', '/v1/md/events', events, 'application/x-ndjson')).status, 200);
  t.is((await call(leader, alice, 'GET', '/v1/md/books/AAPL')).status, 200);
  const msft = await call(leader, alice, 'GET', '/v1/md/books/MSFT');
  t.is(msft.status, 403);
  t.like(msft.json.error, { kind: 'md', prefix: 'MSFT' });
  t.is((await call(leader, alice, 'POST', '/v1/md/books/top', { instruments: ['AAPL', 'MSFT'] })).status, 403);
  t.is((await call(leader, feed, 'GET', '/v1/kv/orders/1')).status, 403, 'a market-data grant gives no keys');
}

test('a new node joins an https cluster with auth on, given the CA and an admin token; without the token it stops with the reason', async (t) => {
  const dir = tempDir(t);
  const certs = join(dir, 'certs');
  for (const args of [['init'], ['issue', 'n1'], ['issue', 'n2']]) t.is(cli({}, 'certs', ...args, '--dir', certs).status, 0);
  const admin = newToken();
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, admin);
  const tls = (name: string) => ['--cert', join(certs, `${name}.crt`), '--key', join(certs, `${name}.key`)];
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--auth', 'on', '--initial-admin-token-file', tokenFile, ...tls('n1')]);
  const n1 = await cluster.leader();
  const conn = { token: admin, ca: readFileSync(join(certs, 'ca.crt')) };
  const https = (p: number, path: string) => `https://127.0.0.1:${p}${path}`;
  await pollUntil(async () => (await callNode(https(n1.port, '/v1/auth/whoami'), {}, conn)).status === 200, 'the initial admin token');

  const joiner = async (extra: string[]) => {
    const [client, peer] = await freePorts(2);
    const p = new Proc(2, client, ['--id', 'n2', '--data', join(dir, 'n2'), '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`, '--join', https(n1.port, ''), '--cacert', join(certs, 'ca.crt'), ...tls('n2'), ...extra]);
    p.spawn();
    t.teardown(() => void p.child.kill('SIGKILL'));
    return p;
  };
  const refused = await joiner([]);
  const exit = await refused.exited;
  t.not(exit.code, 0);
  t.true(refused.events.some((e) => /--auth on/.test(String(e.line ?? ''))), JSON.stringify(refused.events.slice(-3)));

  const n2 = await joiner(['--token-file', tokenFile]);
  await n2.until((e) => e.event === 'promoted');
  const members = (await (await callNode(https(n2.port, '/v1/cluster/members'), {}, conn)).json()) as { members: { id: number; learner: boolean }[] };
  t.deepEqual(members.members.map((m) => [m.id, m.learner]), [[1, false], [2, false]]);
});
