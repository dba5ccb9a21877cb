/**
 * `npm run bench:spike`: the health monitor and adaptive throttling against two spikes, on a
 * 3-node cluster (compiled: `npm install` first). Steady open-loop writes at 60% of the measured
 * capacity, then episodes of baseline / fault / recovery:
 *   burst — 3× capacity for 10 s;  stall — every fdatasync 20 ms slower for 5 s (test-only fault).
 * Throttling off (A) and on (B), switched through POST /v1/monitor/throttle, in ABBA order with
 * the same arrival seed per pair; the table holds medians of the paired figures. Every
 * acknowledged write is read back at the end. JSON: bench/results/spike.json (spike-<burst>x for
 * another QKV_SPIKE_BURST); chart: the same name, .svg. Knobs: QKV_SPIKE_EPISODES (per fault,
 * multiple of 4, default 8), QKV_SPIKE_STEADY_S (20), QKV_SPIKE_BURST (3).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arrivals, type EpisodeLoad, OpenLoop, type Segment } from './lib/open_loop';
import { findLeader, MAIN, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, type Row, writeResults } from './lib/report';
import { renderSpikeChart } from './lib/spike_chart';
import { measureCapacity, readBack, settle, type MonitorSample, MonitorPoller, setAll } from './lib/spike_cluster';
import { p99PerBin, recoveryMs, type WindowStats, windowStats } from './lib/spike_stats';

const EPISODES = Number(process.env.QKV_SPIKE_EPISODES ?? 8);
const STEADY_S = Number(process.env.QKV_SPIKE_STEADY_S ?? 20);
const BASE_MS = 5000;
const RECOVER_MS = 10_000;
const DEADLINE_MS = 1000;
const STALL_DELAY_MS = 20;
/** The burst as a multiple of the measured capacity (the issue's experiment: 3). */
const BURST = Number(process.env.QKV_SPIKE_BURST ?? 3);
const ALL_FAULTS = { burst: { ms: 10_000 }, stall: { ms: 5000 } } as const;
type Fault = keyof typeof ALL_FAULTS;
/** QKV_SPIKE_FAULTS (e.g. `stall`) runs a subset; the results then go to spike-<faults>.json. */
const FAULTS: Partial<Record<Fault, { ms: number }>> = Object.fromEntries(
  (process.env.QKV_SPIKE_FAULTS ?? 'burst,stall').split(',').map((f) => {
    if (!(f in ALL_FAULTS)) throw new Error(`QKV_SPIKE_FAULTS: unknown fault ${f} (burst, stall)`);
    return [f, ALL_FAULTS[f as Fault]];
  }),
);
const faultMs = (f: Fault): number => (FAULTS[f] as { ms: number }).ms;
type Mode = 'off' | 'on';

export interface Episode {
  fault: Fault;
  mode: Mode;
  pair: number;
  spike: WindowStats;
  outside: WindowStats;
  detectionMs: number | null;
  recoveryMs: number | null;
  p99PerBinMs: number[];
  monitor: MonitorSample[];
}

/** The cluster, with the test-only disk stall allowed (the stall fault arms it). */
function startCluster(dir: string): ReturnType<typeof startLocalCluster> {
  process.env.QKV_TEST_WAL_FAULTS = 'stall';
  return startLocalCluster(dir);
}

function segments(fault: Fault, capacity: number): Segment[] {
  const steady = 0.6 * capacity;
  const faultRate = fault === 'burst' ? BURST * capacity : steady;
  return [
    { fromMs: 0, toMs: BASE_MS, rate: steady },
    { fromMs: BASE_MS, toMs: BASE_MS + faultMs(fault), rate: faultRate },
    { fromMs: BASE_MS + faultMs(fault), toMs: BASE_MS + faultMs(fault) + RECOVER_MS, rate: steady },
  ];
}

async function runEpisode(loop: OpenLoop, urls: string[], leader: string, fault: Fault, mode: Mode, pair: number, capacity: number, n: number): Promise<Episode> {
  await setAll(urls, '/v1/monitor/throttle', { enabled: mode === 'on' });
  await settle(leader);
  const ms = faultMs(fault);
  const endMs = BASE_MS + ms + RECOVER_MS;
  const poller = new MonitorPoller(leader);
  poller.start();
  const stall = fault === 'stall' ? setTimeout(() => void setAll(urls, '/v1/test/wal-stall', { delayMs: STALL_DELAY_MS, durationMs: ms }), BASE_MS) : undefined;
  let load: EpisodeLoad;
  try {
    load = await loop.run(arrivals(segments(fault, capacity), 1000 + pair), `spike-${n}`, endMs);
  } finally {
    clearTimeout(stall);
    poller.stop();
  }
  const outside = windowStats(load.bins, 0, BASE_MS);
  const samples = poller.samples;
  const detected = samples.find((s) => s.tMs >= BASE_MS && s.anomaly);
  for (const k of load.acked) episodeKeys.push(k);
  return {
    fault,
    mode,
    pair,
    spike: windowStats(load.bins, BASE_MS, BASE_MS + ms),
    outside,
    detectionMs: detected ? detected.tMs - BASE_MS : null,
    recoveryMs: recoveryMs(load.bins, BASE_MS + ms, endMs, Math.max(2 * outside.p99Ms, outside.p99Ms + 5)),
    p99PerBinMs: p99PerBin(load.bins),
    monitor: samples,
  };
}

const episodeKeys: string[] = [];

/** ABBA, ABBA, ...: pairs (0,1), (2,3), ... share an arrival seed. */
function order(episodes: number): Mode[] {
  const block: Mode[] = ['off', 'on', 'on', 'off'];
  return Array.from({ length: episodes }, (_, i) => block[i % 4]);
}

function summarize(episodes: Episode[], capacity: number): Row[] {
  const rows: Row[] = [];
  for (const fault of Object.keys(FAULTS) as Fault[]) {
    for (const mode of ['off', 'on'] as Mode[]) {
      const es = episodes.filter((e) => e.fault === fault && e.mode === mode);
      const med = (f: (e: Episode) => number | null) => median(es.map(f).filter((x): x is number => x !== null));
      rows.push({
        fault,
        throttle: mode,
        'spike p50 ms': med((e) => e.spike.p50Ms),
        'spike p99 ms': med((e) => e.spike.p99Ms),
        'outside p50 ms': med((e) => e.outside.p50Ms),
        'outside p99 ms': med((e) => e.outside.p99Ms),
        'goodput/s': med((e) => e.spike.goodputPerS),
        'goodput/capacity': `${((med((e) => e.spike.goodputPerS) / capacity) * 100).toFixed(0)}%`,
        'shed %': (med((e) => e.spike.shedFraction) * 100).toFixed(1),
        'late %': (med((e) => e.spike.lateFraction) * 100).toFixed(1),
        'detect ms': med((e) => e.detectionMs),
        'recover ms': med((e) => e.recoveryMs),
        'no recovery': es.filter((e) => e.recoveryMs === null).length,
      });
    }
  }
  return rows;
}

/** Paired (same seed) on/off figures: the median p99 reduction and goodput ratio per fault. */
function paired(episodes: Episode[]): Row[] {
  return (Object.keys(FAULTS) as Fault[]).map((fault) => {
    const pairs = [...new Set(episodes.filter((e) => e.fault === fault).map((e) => e.pair))].map((p) => {
      const of = (m: Mode) => episodes.find((e) => e.fault === fault && e.pair === p && e.mode === m)!;
      return { off: of('off'), on: of('on') };
    });
    return {
      fault,
      pairs: pairs.length,
      'p99 cut (1 − on/off)': `${((1 - median(pairs.map((x) => x.on.spike.p99Ms / x.off.spike.p99Ms))) * 100).toFixed(0)}%`,
      'p99 off − on ms': median(pairs.map((x) => x.off.spike.p99Ms - x.on.spike.p99Ms)),
      'goodput on/off': median(pairs.map((x) => x.on.spike.goodputPerS / x.off.spike.goodputPerS)).toFixed(2),
      target: '≥ 70% cut',
    };
  });
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run npm install (or npm run build) first');
  if (EPISODES % 4 !== 0 || EPISODES < 4) throw new Error('QKV_SPIKE_EPISODES must be a multiple of 4');
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-spike-'));
  const { procs, urls } = await startCluster(dir);
  try {
    const leader = await findLeader(urls);
    const url = new URL(leader);
    // The store's own capacity: throttling off while it is measured.
    await setAll(urls, '/v1/monitor/throttle', { enabled: false });
    const capacity = await measureCapacity(leader);
    await setAll(urls, '/v1/monitor/throttle', { enabled: true });
    console.log(`capacity (closed loop, 64 writers): ${Math.round(capacity)} writes/s; steady load ${Math.round(0.6 * capacity)}/s`);
    const loop = await OpenLoop.open(url.hostname, Number(url.port), DEADLINE_MS, 256);
    await loop.run(arrivals([{ fromMs: 0, toMs: STEADY_S * 1000, rate: 0.6 * capacity }], 7), 'steady', STEADY_S * 1000);
    const episodes: Episode[] = [];
    for (const fault of Object.keys(FAULTS) as Fault[]) {
      for (const [i, mode] of order(EPISODES).entries()) {
        const e = await runEpisode(loop, urls, leader, fault, mode, Math.floor(i / 2), capacity, episodes.length);
        console.log(`${fault} ${mode}: sent ${Math.round(e.spike.sent / (faultMs(fault) / 1000))}/s, spike p50 ${e.spike.p50Ms.toFixed(1)} p99 ${e.spike.p99Ms.toFixed(1)} ms (outside ${e.outside.p99Ms.toFixed(1)}), late ${(e.spike.lateFraction * 100).toFixed(1)}%, goodput ${Math.round(e.spike.goodputPerS)}/s, shed ${(e.spike.shedFraction * 100).toFixed(1)}%, detect ${e.detectionMs} ms, recover ${e.recoveryMs} ms`);
        episodes.push(e);
      }
    }
    loop.close();
    await setAll(urls, '/v1/monitor/throttle', { enabled: true });
    const missing = await readBack(leader, episodeKeys);
    await report(episodes, capacity, missing);
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function report(episodes: Episode[], capacity: number, missing: number): Promise<void> {
  const rows = summarize(episodes, capacity);
  printTable(`Spike experiment: 3 nodes, open-loop writes, burst ${BURST}× capacity, steady ${Math.round(0.6 * capacity)}/s (60% of ${Math.round(capacity)}/s), ${EPISODES} episodes per fault in ABBA order (medians)`, rows);
  const pairs = paired(episodes);
  printTable('Paired on/off (same arrival seed): medians', pairs);
  console.log(`\nacknowledged writes read back: ${episodeKeys.length - missing} of ${episodeKeys.length} (${missing} missing)`);
  const svg = await renderSpikeChart(episodes, BASE_MS, Object.fromEntries(Object.entries(FAULTS).map(([k, v]) => [k, v.ms])));
  const subset = Object.keys(FAULTS).length < Object.keys(ALL_FAULTS).length ? `-${Object.keys(FAULTS).join('-')}` : '';
  const name = `spike${BURST === 3 ? '' : `-${BURST}x`}${subset}`;
  const file = join(__dirname, 'results', `${name}.svg`);
  writeFileSync(file, svg);
  console.log(`chart written to ${file}`);
  writeResults(name, { burstTimesCapacity: BURST, capacityPerS: capacity, steadyPerS: 0.6 * capacity, deadlineMs: DEADLINE_MS, episodesPerFault: EPISODES, acknowledged: episodeKeys.length, missing, summary: rows, paired: pairs, episodes: episodes.map(({ p99PerBinMs: _p, monitor: _m, ...e }) => e) });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
