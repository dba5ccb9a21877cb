/**
 * `npm run bench:delete-prefix`: deleting every key of a prefix on a 3-node cluster, by the
 * range delete (`DELETE /v1/kv?prefix=` until `more` is false: what `quorumkv del --prefix` and
 * the client's `deletePrefix` do), in parts of 10,000 keys (the default) and of 1,000, against
 * what a client did before it: scan a page of 1,000
 * keys, delete them in one `POST /v1/batch`, again until the scan is empty. Each round writes
 * `QKV_BENCH_KEYS` keys (default 100,000) under a fresh prefix, then deletes them one way; the
 * two ways alternate for `QKV_BENCH_ROUNDS` rounds each. Meanwhile a probe writes one key at a
 * time (closed loop): its latency shows what a delete costs other clients (a range delete is
 * read and applied on every node's main thread). Also the probe alone (idle), as the baseline.
 * Reported: keys deleted per second, the probe's p50/p99/max, medians over rounds, and ratios.
 * JSON: bench/results/delete_prefix.json.
 */
import { probed } from './lib/probe';
import { withLocalCluster } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 100_000);
/** Items per batch (the API's limit). */
const BATCH = 1000;

/** A range delete's part: the server's default (and most), and a tenth of it. */
const PARTS = [10_000, 1_000];
const METHODS = ['idle', ...PARTS.map((n) => `range delete ${n}`), 'scan + batch delete'] as const;
type Method = (typeof METHODS)[number];

async function call(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function fill(leader: string, prefix: string): Promise<void> {
  for (let i = 0; i < KEYS; i += BATCH) {
    const ops = Array.from({ length: Math.min(BATCH, KEYS - i) }, (_, j) => ({ op: 'put', key: `${prefix}${String(i + j).padStart(8, '0')}`, value: { px: i + j, qty: 100 } }));
    await call(`${leader}/v1/batch`, { method: 'POST', body: JSON.stringify({ ops }) });
  }
}

async function rangeDelete(leader: string, prefix: string, limit: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const part = await call(`${leader}/v1/kv?${new URLSearchParams({ prefix, limit: String(limit) })}`, { method: 'DELETE' });
    deleted += part.deleted as number;
    if (!part.more) return deleted;
  }
}

async function scanAndDelete(leader: string, prefix: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await call(`${leader}/v1/kv?${new URLSearchParams({ prefix, limit: String(BATCH) })}`);
    const items = page.items as { key: string }[];
    if (items.length === 0) return deleted;
    const answer = await call(`${leader}/v1/batch`, { method: 'POST', body: JSON.stringify({ ops: items.map((i) => ({ op: 'delete', key: i.key })) }) });
    deleted += (answer.results as { deleted?: boolean }[]).filter((r) => r.deleted).length;
  }
}

async function round(leader: string, method: Method, n: number): Promise<Row> {
  const prefix = `del/${METHODS.indexOf(method)}r${n}/`;
  if (method !== 'idle') await fill(leader, prefix);
  const limit = Number(method.split(' ')[2]);
  const work = method.startsWith('range') ? () => rangeDelete(leader, prefix, limit) : method === 'scan + batch delete' ? () => scanAndDelete(leader, prefix) : () => new Promise<number>((r) => setTimeout(() => r(0), 2000));
  const { result: deleted, seconds, probeMs } = await probed(leader, work);
  if (method !== 'idle' && deleted !== KEYS) throw new Error(`${method} deleted ${deleted} of ${KEYS} keys`);
  const left = await call(`${leader}/v1/kv?${new URLSearchParams({ prefix, limit: '1' })}`);
  if ((left.items as unknown[]).length !== 0) throw new Error(`${method} left keys under ${prefix}`);
  return { method, round: n, 'keys/s': method === 'idle' ? 0 : Math.round(deleted / seconds), seconds, 'probe p50 ms': percentile(probeMs, 50), 'probe p99 ms': percentile(probeMs, 99), 'probe max ms': Math.max(...probeMs), probes: probeMs.length };
}

function summarize(samples: Row[]): Row[] {
  const rows: Row[] = METHODS.map((method) => {
    const of = samples.filter((s) => s.method === method);
    const med = (col: string) => median(of.map((s) => s[col] as number));
    return { method, 'keys/s': med('keys/s'), 'probe p50 ms': med('probe p50 ms'), 'probe p99 ms': med('probe p99 ms'), 'probe max ms': med('probe max ms') };
  });
  const scan = rows[rows.length - 1];
  for (const range of rows.filter((r) => String(r.method).startsWith('range'))) {
    const ratio = (col: string) => (range[col] as number) / (scan[col] as number);
    rows.push({ method: `${range.method} / scan+batch`, 'keys/s': ratio('keys/s'), 'probe p50 ms': ratio('probe p50 ms'), 'probe p99 ms': ratio('probe p99 ms'), 'probe max ms': ratio('probe max ms') });
  }
  return rows;
}

async function main(): Promise<void> {
  await withLocalCluster('delete', async (leader) => {
    const samples: Row[] = [];
    for (let n = 0; n < ROUNDS; n++) {
      for (const method of METHODS) samples.push(await round(leader, method, n));
    }
    const rows = summarize(samples);
    printTable(`deleting ${KEYS.toLocaleString('en-US')} keys of a prefix, 3 nodes; a probe writing one key at a time meanwhile; medians of ${ROUNDS} rounds`, rows);
    writeResults('delete_prefix', { rounds: ROUNDS, keys: KEYS, rows, samples });
  });
}

void main();
