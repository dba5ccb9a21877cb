/**
 * `npm run bench:auth`: what authentication and authorization cost a request. Two 3-node
 * clusters run side by side, one with `--auth off`, one with `--auth on` (an initial admin token,
 * then a role with readwrite on `bench/` and a token holding it); wrk (HTTP/1.1, 64 connections)
 * sends single-key linearizable GETs and PUTs to each leader, alternating off/on for `ROUNDS`
 * rounds of `QKV_BENCH_SECONDS`. Reported: medians per mode and the on/off ratio. Also the
 * per-request check itself, in this process: SHA-256 of the token, the constant-time compare and
 * a key check (ns per request). JSON: bench/results/auth.json.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestToken, newToken } from '../ts/auth/model';
import { AuthState } from '../ts/auth/state';
import { PrincipalGuard } from '../ts/auth/guard';
import { type LoadRequest, wrk } from './lib/load';
import { findLeader, hasTool, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const KEYS = 100;

async function json(url: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) };
  const res = await fetch(url, { ...init, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The auth-on cluster's leader serving a token with readwrite on `bench/` (returned). */
async function authCluster(dir: string): Promise<{ procs: ChildProcess[]; leader: string; token: string }> {
  const admin = newToken();
  writeFileSync(join(dir, 'admin.token'), admin);
  const { procs, urls } = await startLocalCluster(join(dir, 'on'), ['--auth', 'on', '--initial-admin-token-file', join(dir, 'admin.token')]);
  // Until the initial token applies every request but /health is refused (503, then 401 without it).
  let leader: string | undefined;
  for (let tries = 0; !leader; tries++) {
    if (tries > 400) throw new Error('no leader serving the initial admin token');
    for (const url of urls) {
      const st = await json(`${url}/v1/cluster`, { token: admin });
      if (st.status === 200 && st.body.state === 'leader') leader = url;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const role = await json(`${leader}/v1/auth/roles/bench`, { method: 'PUT', token: admin, body: JSON.stringify({ permissions: [{ prefix: 'other/', access: 'read' }, { prefix: 'bench/', access: 'readwrite' }] }) });
  if (role.status !== 200) throw new Error(`role: ${JSON.stringify(role.body)}`);
  const made = await json(`${leader}/v1/auth/tokens`, { method: 'POST', token: admin, body: JSON.stringify({ subject: 'bench', roles: ['bench'] }) });
  if (made.status !== 201) throw new Error(`token: ${JSON.stringify(made.body)}`);
  return { procs, leader, token: made.body.token as string };
}

function requests(kind: 'get' | 'put', token: string | undefined): LoadRequest[] {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  return Array.from({ length: KEYS }, (_, i) => (kind === 'get' ? { method: 'GET', path: `/v1/kv/bench/k${i}`, headers } : { method: 'PUT', path: `/v1/kv/bench/k${i}`, body: `{"value":${i}}`, headers }));
}

/** ns per request of what `--auth on` adds in the node: hash, lookup, constant-time compare, key check. */
function checkCostNs(): number {
  const state = new AuthState();
  const token = newToken();
  const { id, hash } = digestToken(token);
  state.apply({ action: 'role.put', role: { name: 'r', admin: false, permissions: [{ kind: 'kv', prefix: 'other/', access: 'read' }, { kind: 'kv', prefix: 'bench/', access: 'readwrite' }] } }, []);
  state.apply({ action: 'token.put', token: { id, hash: hash.toString('hex'), subject: 's', roles: ['r'], createdMs: 0 } }, []);
  const runs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) new PrincipalGuard(state.authenticate(token)!).check('kv', 'bench/k1', 'readwrite');
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return median(runs);
}

async function main(): Promise<void> {
  if (!hasTool('wrk')) throw new Error('wrk is needed: bash scripts/setup-bench.sh');
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-auth-'));
  const all: ChildProcess[] = [];
  try {
    const off = await startLocalCluster(join(dir, 'off'), ['--auth', 'off']);
    all.push(...off.procs);
    const offLeader = await findLeader(off.urls);
    const on = await authCluster(dir);
    all.push(...on.procs);
    const samples: Row[] = [];
    for (const kind of ['put', 'get'] as const) {
      for (let round = 0; round < ROUNDS; round++) {
        samples.push({ ...wrk('quorumkv', kind, offLeader, requests(kind, undefined)), auth: 'off', round });
        samples.push({ ...wrk('quorumkv', kind, on.leader, requests(kind, on.token)), auth: 'on', round });
      }
    }
    const rows: Row[] = [];
    for (const kind of ['put', 'get']) {
      const pick = (mode: string) => samples.filter((s) => s.workload === kind && s.auth === mode);
      const med = (mode: string, col: string) => median(pick(mode).map((s) => s[col] as number));
      for (const mode of ['off', 'on']) rows.push({ workload: kind, auth: mode, 'ops/s': med(mode, 'ops/s'), 'p50 ms': med(mode, 'p50 ms'), 'p99 ms': med(mode, 'p99 ms'), errors: pick(mode).reduce((n, s) => n + (s.errors as number), 0) });
      rows.push({ workload: kind, auth: 'on/off', 'ops/s': med('on', 'ops/s') / med('off', 'ops/s'), 'p50 ms': med('on', 'p50 ms') / med('off', 'p50 ms'), 'p99 ms': med('on', 'p99 ms') / med('off', 'p99 ms'), errors: 0 });
    }
    const ns = checkCostNs();
    printTable(`auth off vs on: wrk h1, 64 connections, single keys, medians of ${ROUNDS} rounds`, rows);
    printTable('the per-request check in-process (hash + constant-time compare + key check)', [{ 'ns/request': ns }]);
    writeResults('auth', { rounds: ROUNDS, rows, samples, checkNsPerRequest: ns });
  } finally {
    await stopAll(all);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
