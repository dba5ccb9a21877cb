/**
 * Seeded, deterministic synthetic market data for tests and benchmarks (`quorumkv md generate`):
 * a random-walk mid price on a tick grid per instrument, Poisson arrivals of book deltas,
 * trades and quotes with a few instruments far busier than the rest (Zipf weights), bursts,
 * one flash-crash episode (spread ×5, activity ×50), and optionally injected venue gaps and
 * duplicated lines. The same options always give the same lines.
 */
import { mulberry32, type Random } from '../raft/random';
import { formatPrice } from './records';

export interface GeneratorOptions {
  instruments: number;
  minutes: number;
  seed: number;
  /** Events per second across all instruments outside bursts. */
  eventsPerSecond?: number;
  /** Probability that a venueSeq skips ahead (a gap the store must detect). */
  gapRate?: number;
  /** Probability that a line is sent twice (a duplicate the store must skip). */
  duplicateRate?: number;
  /** Instruments are named `<prefix>001`, … (default `SYM`); the producer is `<producer>` (default `gen-<seed>`). */
  symbolPrefix?: string;
  producer?: string;
}

const T0_NS = 1_700_000_000_000_000_000n;
const TICK_UNITS = 10_000_000n; // a 0.01 tick, in 1e-9 units

interface InstrumentState {
  symbol: string;
  weight: number;
  /** Mid price in ticks. */
  mid: number;
  venueSeq: bigint;
  /** The price levels (in ticks) the generated deltas left in the book, per side. */
  bids: Set<number>;
  asks: Set<number>;
}

/** Exponential inter-arrival time in ns for a Poisson process of `perSecond`. */
function nextGapNs(random: Random, perSecond: number): bigint {
  return BigInt(Math.max(1, Math.round((-Math.log(1 - random.next()) / perSecond) * 1e9)));
}

function pickInstrument(random: Random, states: InstrumentState[], totalWeight: number): InstrumentState {
  let r = random.next() * totalWeight;
  for (const s of states) {
    r -= s.weight;
    if (r <= 0) return s;
  }
  return states[states.length - 1];
}

/** NDJSON event lines, in venue-time order. */
export function* generate(opts: GeneratorOptions): Generator<string> {
  const random = mulberry32(opts.seed);
  const states: InstrumentState[] = Array.from({ length: opts.instruments }, (_, i) => ({ symbol: `${opts.symbolPrefix ?? 'SYM'}${String(i + 1).padStart(3, '0')}`, weight: 1 / (i + 1), mid: 10_000 + random.intn(10_000), venueSeq: 0n, bids: new Set<number>(), asks: new Set<number>() }));
  const totalWeight = states.reduce((n, s) => n + s.weight, 0);
  const durationNs = BigInt(opts.minutes * 60) * 1_000_000_000n;
  const crashFrom = (durationNs * 60n) / 100n;
  const crashTo = crashFrom + durationNs / 100n + 1n;
  const baseRate = opts.eventsPerSecond ?? 2000;
  let producerSeq = 0n;
  let burstUntil = 0n;
  for (let t = 0n; t < durationNs; ) {
    const crash = t >= crashFrom && t < crashTo;
    if (t >= burstUntil && random.next() < 0.0005) burstUntil = t + 50_000_000n; // a 50 ms burst
    const rate = baseRate * (crash ? 50 : t < burstUntil ? 10 : 1);
    t += nextGapNs(random, rate);
    const s = pickInstrument(random, states, totalWeight);
    for (const e of events(random, s, crash)) {
      s.venueSeq += random.next() < (opts.gapRate ?? 0) ? 2n + BigInt(random.intn(3)) : 1n;
      producerSeq++;
      const line = JSON.stringify({ ...e, instrument: s.symbol, tsEvent: (T0_NS + t).toString(), producerId: opts.producer ?? `gen-${opts.seed}`, producerSeq: producerSeq.toString(), venueSeq: s.venueSeq.toString(), publisher: 1 });
      yield line;
      if (random.next() < (opts.duplicateRate ?? 0)) yield line;
    }
  }
}

const price = (ticks: number) => formatPrice(BigInt(ticks) * TICK_UNITS);

/**
 * The next venue event of `s`: the mid walks (in the crash it drifts down and the spread widens),
 * levels the new quote would cross are cancelled first — the generated book never crosses —
 * then one delta, trade or quote.
 */
function events(random: Random, s: InstrumentState, crash: boolean): Record<string, unknown>[] {
  s.mid = Math.max(100, s.mid + (random.next() < (crash ? 0.7 : 0.5) ? -1 : 1) * (random.next() < 0.1 ? 1 : 0));
  const halfSpread = (crash ? 5 : 1) * (1 + random.intn(2));
  const out: Record<string, unknown>[] = [];
  for (const level of [...s.bids]) if (level >= s.mid) out.push(cancel(s.bids, 'bid', level));
  for (const level of [...s.asks]) if (level <= s.mid) out.push(cancel(s.asks, 'ask', level));
  const r = random.next();
  if (r < 0.7) {
    const side = random.next() < 0.5 ? 'bid' : 'ask';
    const levels = side === 'bid' ? s.bids : s.asks;
    const distance = halfSpread + random.intn(10);
    const level = side === 'bid' ? s.mid - distance : s.mid + distance;
    if (levels.has(level) && random.next() < 0.25) {
      out.push(cancel(levels, side, level));
    } else {
      levels.add(level);
      out.push({ kind: 'delta', action: 'add', side, price: price(level), size: 1 + random.intn(1000), orders: 1 + random.intn(10) });
    }
  } else if (r < 0.9) {
    out.push({ kind: 'trade', side: random.next() < 0.5 ? 'buy' : 'sell', price: price(s.mid), size: 1 + random.intn(300) });
  } else {
    out.push({ kind: 'quote', bidPrice: price(s.mid - halfSpread), bidSize: 1 + random.intn(500), askPrice: price(s.mid + halfSpread), askSize: 1 + random.intn(500) });
  }
  return out;
}

function cancel(levels: Set<number>, side: 'bid' | 'ask', level: number): Record<string, unknown> {
  levels.delete(level);
  return { kind: 'delta', action: 'cancel', side, price: price(level), size: 0 };
}
