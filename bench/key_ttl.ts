/**
 * `npm run bench:key-ttl`: keys with a TTL on a 3-node cluster. Each round puts
 * `QKV_BENCH_KEYS` keys (default 20,000; 64 in flight) under a fresh prefix, alternately without
 * and with a TTL, so the two put rates compare in one run. The TTLs all end at one deadline
 * (each put asks for the time left until it, at least 1 s): a burst of expiries, as when a
 * session's keys all lapse. A watch on the prefix records when each key's delete arrives: the
 * lag past its `expiresAtMs` (p50/p99/max; the leader looks every 100 ms and deletes 1,000 keys
 * per entry, the next entry as soon as one applied) and the keys expired per second from the
 * first expiry to the last delete. Medians over `QKV_BENCH_ROUNDS`.
 * JSON: bench/results/key_ttl.json.
 */
import { withLocalCluster } from './lib/procs';
import { median, percentile, printTable, type Row, writeResults } from './lib/report';

const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 20_000);
const IN_FLIGHT = 64;
/** The deadline: this long after a TTL round starts, per 1,000 keys, plus `DEADLINE_SLACK_MS` (puts run at ≥ 2K/s here). */
const DEADLINE_MS_PER_1000_KEYS = 500;
const DEADLINE_SLACK_MS = 2000;

/** Puts every key (64 at a time); the expiry each answer named, by key. */
async function putAll(leader: string, prefix: string, deadlineMs: number | undefined): Promise<{ seconds: number; expiresAt: Map<string, number> }> {
  const expiresAt = new Map<string, number>();
  const ttl = deadlineMs !== undefined;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < KEYS; i = next++) {
      const key = `${prefix}${String(i).padStart(6, '0')}`;
      const res = await fetch(`${leader}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify(ttl ? { value: i, ttlMs: Math.max(1000, deadlineMs - Date.now()) } : { value: i }) });
      const body = (await res.json()) as { expiresAtMs?: number };
      if (res.status !== 200) throw new Error(`put ${key}: ${res.status} ${JSON.stringify(body)}`);
      if (ttl) expiresAt.set(key, body.expiresAtMs!);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { seconds: (performance.now() - t0) / 1000, expiresAt };
}

/** Watches `prefix` from now; resolves with each deleted key's arrival time once `count` arrived. */
async function deletions(leader: string, prefix: string, count: number, opened: () => void): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const res = await fetch(`${leader}/v1/watch?${new URLSearchParams({ prefix })}`);
  opened();
  let rest = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const now = Date.now();
    const lines = (rest + Buffer.from(chunk).toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (line.length === 0) continue;
      const ev = JSON.parse(line) as { type?: string; key?: string };
      if (ev.type === 'delete' && ev.key !== undefined) seen.set(ev.key, now);
    }
    if (seen.size >= count) return seen;
  }
  throw new Error(`the watch ended after ${seen.size} of ${count} deletes`);
}

async function round(leader: string, n: number, ttl: boolean): Promise<Row> {
  const prefix = `ttl/${ttl ? 't' : 'p'}${n}/`;
  let open: () => void = () => undefined;
  const watching = new Promise<void>((resolve) => (open = resolve));
  const deleted = ttl ? deletions(leader, prefix, KEYS, open) : undefined;
  if (ttl) await watching;
  const deadlineMs = ttl ? Date.now() + (KEYS / 1000) * DEADLINE_MS_PER_1000_KEYS + DEADLINE_SLACK_MS : undefined;
  const { seconds, expiresAt } = await putAll(leader, prefix, deadlineMs);
  const row: Row = { ttl: ttl ? 'to a deadline' : 'none', round: n, 'puts/s': Math.round(KEYS / seconds) };
  if (!deleted) return row;
  const arrivals = await deleted;
  const lags = [...expiresAt].map(([key, at]) => arrivals.get(key)! - at);
  const firstDue = Math.min(...expiresAt.values());
  const lastSeen = Math.max(...arrivals.values());
  return { ...row, 'lag p50 ms': percentile(lags, 50), 'lag p99 ms': percentile(lags, 99), 'lag max ms': Math.max(...lags), 'expired/s': Math.round(KEYS / Math.max((lastSeen - firstDue) / 1000, 0.001)) };
}

async function main(): Promise<void> {
  await withLocalCluster('ttl', async (leader) => {
    const samples: Row[] = [];
    for (let n = 0; n < ROUNDS; n++) for (const ttl of [false, true]) samples.push(await round(leader, n, ttl));
    const cols = ['puts/s', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'expired/s'];
    const rows: Row[] = ['none', 'to a deadline'].map((ttl) => {
      const of = samples.filter((s) => s.ttl === ttl);
      const row: Row = { ttl };
      for (const c of cols) row[c] = of[0][c] === undefined ? '-' : median(of.map((s) => s[c] as number));
      return row;
    });
    rows.push({ ttl: 'with / without', 'puts/s': (rows[1]['puts/s'] as number) / (rows[0]['puts/s'] as number), 'lag p50 ms': '-', 'lag p99 ms': '-', 'lag max ms': '-', 'expired/s': '-' });
    printTable(`${KEYS.toLocaleString('en-US')} single-key puts (64 in flight), 3 nodes; with a TTL: each delete's lag past its expiry, seen by a watch; medians of ${ROUNDS} rounds`, rows);
    writeResults('key_ttl', { rounds: ROUNDS, keys: KEYS, rows, samples });
  });
}

void main();
