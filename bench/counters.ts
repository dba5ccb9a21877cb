/**
 * `npm run bench:counters`: one hot counter (an order-id sequence) on a 3-node cluster, taken by
 * `QKV_BENCH_CALLERS` concurrent callers (default 64) for `QKV_BENCH_SECONDS` (default 5) per
 * round, two ways alternating for `QKV_BENCH_ROUNDS` rounds (default 3) after a warm-up of each:
 * - `PATCH /v1/kv/{key}` `{"op":"incr"}`: added where the entry applies, so callers never conflict;
 * - compare-and-set, what a client did before: read the value and its revision, put value + 1
 *   `ifRevision`, and on `revision_mismatch` read again.
 * Each caller is a closed loop of HTTP/1.1 requests (fetch). Reported: ids handed out per second
 * (each one unique: the bench checks every value once), requests per id, p50/p99 per id, the
 * medians over rounds and the ratio. JSON: bench/results/counters.json.
 */
import { withLocalCluster } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const CALLERS = Number(process.env.QKV_BENCH_CALLERS ?? 64);
const SECONDS = Number(process.env.QKV_BENCH_SECONDS ?? 5);
const WAYS = ['incr', 'compare-and-set'] as const;
type Way = (typeof WAYS)[number];

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** One id by incr: one request. */
async function incrId(key: string): Promise<{ id: number; requests: number }> {
  const r = await call(key, { method: 'PATCH', body: '{"op":"incr"}' });
  if (r.status !== 200) throw new Error(`incr answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { id: r.body.value as number, requests: 1 };
}

/** One id by compare-and-set: a read and a conditional put, again until the put wins. */
async function casId(key: string): Promise<{ id: number; requests: number }> {
  for (let requests = 2; ; requests += 2) {
    const cur = await call(key);
    const value = cur.status === 404 ? 0 : (cur.body.value as number);
    const revision = cur.status === 404 ? 0 : (cur.body.revision as number);
    const put = await call(`${key}?ifRevision=${revision}`, { method: 'PUT', body: JSON.stringify({ value: value + 1 }) });
    if (put.status === 200) return { id: value + 1, requests };
    if (put.status !== 409) throw new Error(`put answered ${put.status}: ${JSON.stringify(put.body)}`);
  }
}

async function round(leader: string, way: Way, n: number | 'warm-up'): Promise<{ perS: number; requestsPerId: number; latencies: number[] }> {
  const key = `${leader}/v1/kv/bench/seq-${way === 'incr' ? 'i' : 'c'}${n}`;
  const take = way === 'incr' ? incrId : casId;
  const ids: number[] = [];
  const latencies: number[] = [];
  let requests = 0;
  const until = performance.now() + SECONDS * 1000;
  const caller = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const got = await take(key);
      latencies.push(performance.now() - t0);
      ids.push(got.id);
      requests += got.requests;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const seconds = (performance.now() - started) / 1000;
  // Every id handed out once, and none skipped: 1..n.
  ids.sort((a, b) => a - b);
  if (ids.some((id, i) => id !== i + 1)) throw new Error(`${way}: the ids handed out are not 1..${ids.length}`);
  return { perS: ids.length / seconds, requestsPerId: requests / ids.length, latencies };
}

async function main(): Promise<void> {
  const results = await withLocalCluster('counters', async (leader) => {
    const out = new Map<Way, { perS: number[]; requestsPerId: number[]; latencies: number[] }>(WAYS.map((w) => [w, { perS: [], requestsPerId: [], latencies: [] }]));
    // A warm-up of each way first (connections, JIT), not counted.
    for (const way of WAYS) await round(leader, way, 'warm-up');
    for (let n = 0; n < ROUNDS; n++) {
      for (const way of n % 2 === 0 ? WAYS : [...WAYS].reverse()) {
        const r = await round(leader, way, n);
        const o = out.get(way)!;
        o.perS.push(r.perS);
        o.requestsPerId.push(r.requestsPerId);
        o.latencies.push(...r.latencies);
        console.error(`  round ${n} ${way}: ${Math.round(r.perS)} ids/s, ${r.requestsPerId.toFixed(2)} requests per id`);
      }
    }
    return out;
  });
  const incrRate = median(results.get('incr')!.perS);
  const rows: Row[] = WAYS.map((way) => {
    const r = results.get(way)!;
    return {
      way,
      'ids/s': Math.round(median(r.perS)),
      'vs incr': +(median(r.perS) / incrRate).toFixed(2),
      'requests/id': +median(r.requestsPerId).toFixed(2),
      'p50 ms': +percentile(r.latencies, 50).toFixed(2),
      'p99 ms': +percentile(r.latencies, 99).toFixed(2),
      rounds: r.perS.map((x) => Math.round(x)).join(' / '),
    };
  });
  printTable(`one hot counter, ${CALLERS} callers, ${SECONDS} s rounds (3 nodes on 127.0.0.1)`, rows);
  writeResults('counters', { callers: CALLERS, seconds: SECONDS, rounds: ROUNDS, rows });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
