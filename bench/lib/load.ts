/**
 * Load generators for the cluster benchmark, each giving one table row: autocannon (HTTP/1.1,
 * in this process), wrk (HTTP/1.1, C, lighter on the shared CPUs — the tool the issue's etcd
 * figures came from) and h2load (HTTP/2). All keep `CONNECTIONS` requests in flight: one on each
 * of `CONNECTIONS` connections, or for h2load optionally `streamsPerConnection` streams on each
 * of fewer connections (HTTP/2's own way: our client and gRPC multiplex one connection).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnText } from './procs';
import { percentile } from './report';

export const CONNECTIONS = 64;
export const DURATION_S = Number(process.env.QKV_BENCH_SECONDS ?? 5);
/** wrk's threads: one per core of this 2-core machine. */
const WRK_THREADS = 2;

export interface Row {
  [column: string]: string | number;
  system: string;
  workload: string;
  client: string;
  'ops/s': number;
  'p50 ms': number;
  'p99 ms': number;
  errors: number;
}

/** The row of `system`, `workload` and (if given) `client` among `rows`. */
export function findRow(rows: readonly Row[], system: string, workload: string, client?: string): Row | undefined {
  return rows.find((r) => r.system === system && r.workload === workload && (client === undefined || r.client === client));
}

export interface LoadRequest {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  body?: string;
  /** Extra headers (wrk only), e.g. authorization. */
  headers?: Record<string, string>;
}

/** Requests cycle through `request(0..)`; `multiplier` turns requests/s into keys/s. */
export async function cannon(system: string, workload: string, url: string, request: (i: number) => LoadRequest, multiplier = 1): Promise<Row> {
  let i = 0;
  const first = request(0);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [{
      method: first.method,
      setupRequest: (req) => {
        const r = request(i++);
        return { ...req, method: r.method, path: r.path, body: r.body, headers: { 'content-type': 'application/json' } };
      },
    }],
  });
  return {
    system,
    workload,
    client: 'autocannon h1',
    'ops/s': result.requests.average * multiplier,
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/** wrk cycling through `requests` (a Lua table of preformatted requests, one per key). */
export function wrk(system: string, workload: string, url: string, requests: LoadRequest[]): Row {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-wrk-'));
  try {
    const script = join(dir, 'load.lua');
    const lua = (s: string) => JSON.stringify(s); // JSON string escapes are valid Lua escapes for ASCII
    const headers = (r: LoadRequest) => Object.entries({ 'content-type': 'application/json', ...r.headers }).map(([k, v]) => `[${lua(k)}]=${lua(v)}`).join(', ');
    const formatted = requests.map((r) => `wrk.format(${lua(r.method)}, ${lua(r.path)}, {${headers(r)}}, ${r.body === undefined ? 'nil' : lua(r.body)})`);
    writeFileSync(script, [
      'local requests = {}',
      'local i = 0',
      `init = function() requests = {${formatted.join(',\n')}} end`,
      'request = function() i = i % #requests + 1; return requests[i] end',
    ].join('\n'));
    const out = spawnText('wrk', ['-t', String(WRK_THREADS), '-c', String(CONNECTIONS), '-d', `${DURATION_S}s`, '--latency', '-s', script, url]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
    const latency = (p: number) => toMs(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out));
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    return { system, workload, client: 'wrk h1', 'ops/s': rps, 'p50 ms': latency(50), 'p99 ms': latency(99), errors: non2xx + socketErrors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function toMs(m: RegExpExecArray | null): number {
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

export function h2load(system: string, workload: string, urls: string[], method: 'GET' | 'PUT' | 'POST', body?: string, streamsPerConnection = 1): Row {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-h2load-'));
  try {
    const log = join(dir, 'log');
    const connections = CONNECTIONS / streamsPerConnection;
    const args = ['-c', String(connections), '-m', String(streamsPerConnection), '-D', String(DURATION_S), '--log-file', log, '-H', 'content-type: application/json'];
    if (body !== undefined) {
      writeFileSync(join(dir, 'body'), body);
      args.push('-d', join(dir, 'body'));
    }
    if (method !== 'GET' && method !== 'POST') args.push('-H', `:method: ${method}`);
    const out = spawnText('h2load', [...args, ...urls]);
    const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    const failed = Number(/requests: .* (\d+) failed/.exec(out)?.[1] ?? 0) + (codes ? Number(codes[3]) + Number(codes[4]) : 0);
    const latUs = readFileSync(log, 'utf8').trim().split('\n').map((l) => Number(l.split('\t')[2]));
    const client = streamsPerConnection === 1 ? 'h2load h2' : `h2load h2 ${connections}×${streamsPerConnection}`;
    return { system, workload, client, 'ops/s': rps, 'p50 ms': percentile(latUs, 50) / 1000, 'p99 ms': percentile(latUs, 99) / 1000, errors: failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Issues `n` requests once each (preloading), `CONNECTIONS` at a time. */
export async function cannonOnce(url: string, n: number, request: (i: number) => LoadRequest): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const r = request(next++);
      const res = await fetch(url + r.path, { method: r.method, body: r.body, headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`preload ${r.path}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
}
