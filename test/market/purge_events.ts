/** Market data for the purge tests: a seeded day of two instruments, and its ingestion. */
import type { ExecutionContext } from 'ava';
import { seededRandom } from '../helpers/random';

export const T0 = 1_700_000_000_000_000_000n;

/** Seeded deltas (a few levels a side) and trades of AAPL and MSFT, a millisecond apart. */
export function events(count: number): Record<string, unknown>[] {
  const random = seededRandom(3);
  return Array.from({ length: count }, (_, i) => {
    const instrument = random() < 0.75 ? 'AAPL' : 'MSFT';
    const base = { instrument, tsEvent: String(T0 + BigInt(i) * 1_000_000n), producerId: 'feed', producerSeq: i + 1 };
    const side = random() < 0.5 ? 'bid' : 'ask';
    const price = (side === 'bid' ? 100 - Math.floor(random() * 8) * 0.25 : 100.25 + Math.floor(random() * 8) * 0.25).toFixed(2);
    if (random() < 0.2) return { kind: 'trade', ...base, price, size: 1 + Math.floor(random() * 50), side: 'buy' };
    return { kind: 'delta', ...base, action: random() < 0.85 ? 'add' : 'cancel', side, price, size: 1 + Math.floor(random() * 300), orders: 1 };
  });
}

/** The venue time of the event at `fraction` of `count` (the cut of a purge, a read's start). */
export const timeAt = (count: number, fraction: number): bigint => T0 + BigInt(Math.floor(count * fraction)) * 1_000_000n;

/** Ingests `input` in batches of `perBatch` events (one proposal, one stored block per instrument each). */
export async function ingest(t: ExecutionContext, url: (path: string) => string, input: Record<string, unknown>[], perBatch = 500): Promise<void> {
  for (let i = 0; i < input.length; i += perBatch) {
    const body = input.slice(i, i + perBatch).map((e) => JSON.stringify(e)).join('\n');
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    t.is(res.status, 200, await res.text());
  }
}
