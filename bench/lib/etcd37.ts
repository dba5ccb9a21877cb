/**
 * etcd 3.7 over its native gRPC API, the strongest etcd: its server and a load generator on its
 * Go client (`bench/etcd37`, built by `bash scripts/setup-bench.sh` from the Go module proxy).
 * The load is the shape: 64 closed-loop callers sharing 8 client connections (gRPC
 * multiplexes calls on each, as our HTTP/2 client does), every call to the leader.
 */
import { type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CONNECTIONS, DURATION_S, findRow, type Row } from './load';
import { freePorts, launch, spawnText } from './procs';
import { median } from './report';

const DIR = join(homedir(), '.cache', 'quorumkv', 'tools', 'etcd37');
export const ETCD37 = join(DIR, 'etcd');
const LOAD = join(DIR, 'load');
/** gRPC client connections the callers share. */
const GRPC_CONNECTIONS = 8;

export function hasEtcd37(): boolean {
  return existsSync(ETCD37) && existsSync(LOAD);
}

export async function startEtcd37(dir: string): Promise<{ procs: ChildProcess[]; endpoints: string }> {
  const ports = await freePorts(6);
  const initial = [1, 2, 3].map((i) => `e${i}=http://127.0.0.1:${ports[2 + i]}`).join(',');
  const procs = await Promise.all([1, 2, 3].map((i) =>
    launch(ETCD37, [
      '--name', `e${i}`, '--data-dir', join(dir, `e${i}`),
      '--listen-client-urls', `http://127.0.0.1:${ports[i - 1]}`, '--advertise-client-urls', `http://127.0.0.1:${ports[i - 1]}`,
      '--listen-peer-urls', `http://127.0.0.1:${ports[2 + i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[2 + i]}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench37',
    ], /ready to serve client requests/),
  ));
  return { procs, endpoints: ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',') };
}

export function preloadEtcd37(endpoints: string, keys: number): void {
  spawnText(LOAD, ['-endpoints', endpoints, '-op', 'preload', '-keys', String(keys)]);
}

/** One row: `op` is put, get (linearizable) or get-serializable. */
export function grpcLoad(workload: string, endpoints: string, op: 'put' | 'get' | 'get-serializable', keys: number): Row {
  const out = spawnText(LOAD, ['-endpoints', endpoints, '-leader-only', '-op', op, '-clients', String(CONNECTIONS), '-conns', String(GRPC_CONNECTIONS), '-duration', `${DURATION_S}s`, '-keys', String(keys)]);
  const r = JSON.parse(out.trim().split('\n').pop()!) as { opsPerSecond: number; p50Ms: number; p99Ms: number; errors: number };
  return { system: 'etcd 3.7', workload, client: `go grpc ${GRPC_CONNECTIONS}×${CONNECTIONS / GRPC_CONNECTIONS}`, 'ops/s': r.opsPerSecond, 'p50 ms': r.p50Ms, 'p99 ms': r.p99Ms, errors: r.errors };
}

/** [quorumkv workload, etcd 3.7 workload]: a stale read is etcd's serializable read. */
const PAIRS: [string, string][] = [['write', 'write'], ['read (linearizable)', 'read (linearizable)'], ['read (stale, leader)', 'read (serializable)']];

/**
 * quorumkv / etcd 3.7 per workload, for each quorumkv client (wrk over HTTP/1.1, h2load 8×8 over
 * HTTP/2: the same 64 calls in flight): the median of the rounds' ratios, ops/s and CPU per op.
 */
export function etcd37Ratios(rounds: Row[][]): Record<string, string | number>[] {
  const out: Record<string, string | number>[] = [];
  for (const [qWorkload, eWorkload] of PAIRS) {
    for (const client of ['wrk h1', `h2load h2 8×8`]) {
      const per = rounds.map((rows) => ({ q: findRow(rows, 'quorumkv', qWorkload, client), e: findRow(rows, 'etcd 3.7', eWorkload) })).filter((x) => x.q && x.e);
      if (per.length === 0) continue;
      out.push({
        workload: qWorkload === eWorkload ? qWorkload : `${qWorkload} vs ${eWorkload}`,
        'quorumkv client': client,
        'quorumkv ops/s': Math.round(median(per.map((x) => x.q!['ops/s']))),
        'etcd 3.7 ops/s': Math.round(median(per.map((x) => x.e!['ops/s']))),
        'quorumkv / etcd 3.7': `${median(per.map((x) => x.q!['ops/s'] / x.e!['ops/s'])).toFixed(2)}×`,
        'cpu µs/op quorumkv / etcd 3.7': `${median(per.map((x) => Number(x.q!['cpu µs/op']) / Number(x.e!['cpu µs/op']))).toFixed(2)}×`,
      });
    }
  }
  return out;
}
