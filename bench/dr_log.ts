/**
 * bench:dr's continuous-log part: a 3-node cluster shipping its log to versitygw every
 * `--backup-log-every 1s` (the default) takes `QKV_BENCH_LOG_ENTRIES` single-key writes (default
 * 1M log entries, 32 concurrent, each key written once), then:
 * - point-in-time restore to the index of the write half-way through, checked key by key
 *   (every acknowledged write at or below the index present with its value, every one above absent);
 * - RPO: under the same write load all three nodes are killed and their data directories
 *   deleted; the newest backup rolled forward by the log is restored and every acknowledged
 *   write looked up: the ones missing are counted exactly, with how long before the kill they
 *   were acknowledged (they should all be within the last shipping interval plus one upload);
 * - replay speed: that restore with log segments fetched one at a time vs `PREFETCH_SEGMENTS`
 *   ahead, alternating, `REPLAY_ROUNDS` each (median of the paired ratios).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../ts/native';
import { decodeStored } from '../ts/node/commands';
import { PREFETCH_SEGMENTS } from '../ts/backup/pitr';
import { findLeader, MAIN, startLocalCluster } from './lib/procs';
import { median } from './lib/report';

const ENTRIES = Number(process.env.QKV_BENCH_LOG_ENTRIES ?? 1_000_000);
const CONCURRENCY = Number(process.env.QKV_BENCH_LOG_CONCURRENCY ?? 32);
/** How long the write load runs before every node is killed (RPO). */
const LOAD_BEFORE_KILL_MS = 5_000;
const SHIP_EVERY = '1s';
const REPLAY_ROUNDS = 2;

interface Ack {
  revision: number;
  atMs: number;
}

/** Writes `log<i>` = i for i in [from, to) (or until `stop()`), recording every acknowledgement. */
export async function writes(url: string, from: number, to: number, acks: Map<number, Ack>, stop = () => false): Promise<{ next: number; failed: number }> {
  let next = from;
  let failed = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < to && !stop()) {
      const i = next++;
      try {
        const res = await fetch(`${url}/v1/kv/log${i}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: i }) });
        const body = (await res.json()) as { revision?: number };
        if (res.status === 200) acks.set(i, { revision: body.revision!, atMs: Date.now() });
        else failed++;
      } catch {
        failed++; // the nodes were killed under it: not acknowledged
      }
    }
  }));
  return { next, failed };
}

function restore(target: string, out: string, extra: string[]): { ms: number; report: { index: number; baseIndex: number; entriesReplayed: number; segments: number } } {
  // The restored member is read in place, never started: its peer address is only recorded.
  const peer = 7001;
  const started = performance.now();
  const r = spawnSync(process.execPath, [MAIN, 'restore', '--from', target, '--out', out, '--cluster', `n1=127.0.0.1:${peer}`, '--quiet', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`restore: ${r.stderr}`);
  return { ms: performance.now() - started, report: JSON.parse(r.stdout) };
}

/** The acknowledged writes the restored member at `dataDir` lacks, and any it holds that it should not. */
function check(dataDir: string, acks: Map<number, Ack>, upTo = Number.MAX_SAFE_INTEGER): { missing: number[]; unexpected: number; wrong: number } {
  const engine = Engine.open(join(dataDir, 'engine'));
  try {
    const missing: number[] = [];
    let unexpected = 0;
    let wrong = 0;
    for (const [i, ack] of acks) {
      const raw = engine.get(`log${i}`);
      if (ack.revision <= upTo && !raw) missing.push(i);
      else if (ack.revision > upTo && raw) unexpected++;
      else if (raw && JSON.parse(decodeStored(raw).value.toString('utf8')) !== i) wrong++;
    }
    return { missing, unexpected, wrong };
  } finally {
    engine.close();
  }
}

export interface LogResults {
  entries: number;
  writeS: number;
  pitr: { index: number; baseIndex: number; entriesReplayed: number; restoreMs: number; checked: number; missing: number; unexpected: number; wrong: number };
  replay: { prefetchSegments: number; oneMs: number[]; aheadMs: number[]; ratio: number };
  rpo: { acknowledged: number; missing: number; oldestMissingAckMs: number | null; unexpected: number; wrong: number; restoreMs: number; entriesReplayed: number };
}

export async function logPhase(dir: string, target: string): Promise<LogResults> {
  const data = join(dir, 'log-data');
  const { procs, urls } = await startLocalCluster(data, ['--backup-target', target, '--backup-log-every', SHIP_EVERY]);
  const acks = new Map<number, Ack>();
  let killed: ChildProcess[] = [];
  try {
    const leader = await findLeader(urls);
    const started = performance.now();
    const first = await writes(leader, 0, ENTRIES, acks);
    const writeS = (performance.now() - started) / 1000;
    console.log(`log: ${acks.size.toLocaleString()} writes acknowledged in ${writeS.toFixed(1)} s (${first.failed} failed)`);
    const half = acks.get(Math.floor(ENTRIES / 2))!.revision;
    // RPO: the load goes on, then every node dies at once and its data is gone.
    let stop = false;
    let killMs = 0;
    const load = writes(leader, ENTRIES, Number.MAX_SAFE_INTEGER, acks, () => stop);
    await new Promise((r) => setTimeout(r, LOAD_BEFORE_KILL_MS));
    killMs = Date.now();
    for (const p of procs) p.kill('SIGKILL');
    killed = procs;
    stop = true;
    await load;
    rmSync(data, { recursive: true, force: true });
    const latest = restore(target, join(dir, 'log-latest'), []);
    const lost = check(join(dir, 'log-latest', 'n1'), acks);
    const oldest = lost.missing.length === 0 ? null : Math.max(...lost.missing.map((i) => killMs - acks.get(i)!.atMs));
    // Replay speed: the same restore with segments fetched one at a time and PREFETCH_SEGMENTS
    // ahead, alternating (the store's files are in the page cache for all but the first run).
    const replayMs: { one: number[]; ahead: number[] } = { one: [], ahead: [] };
    for (let round = 0; round < REPLAY_ROUNDS; round++) {
      for (const [kind, depth] of [['one', 1], ['ahead', PREFETCH_SEGMENTS]] as const) {
        const out = join(dir, `log-replay-${kind}-${round}`);
        replayMs[kind].push(restore(target, out, ['--prefetch-segments', String(depth)]).ms);
        rmSync(out, { recursive: true, force: true });
      }
    }
    // Point in time: the write half-way through.
    const pitr = restore(target, join(dir, 'log-pitr'), ['--index', String(half)]);
    const atHalf = check(join(dir, 'log-pitr', 'n1'), acks, half);
    return {
      entries: ENTRIES,
      writeS,
      pitr: { index: pitr.report.index, baseIndex: pitr.report.baseIndex, entriesReplayed: pitr.report.entriesReplayed, restoreMs: pitr.ms, checked: acks.size, missing: atHalf.missing.length, unexpected: atHalf.unexpected, wrong: atHalf.wrong },
      replay: { prefetchSegments: PREFETCH_SEGMENTS, oneMs: replayMs.one, aheadMs: replayMs.ahead, ratio: median(replayMs.ahead.map((a, i) => a / replayMs.one[i])) },
      rpo: { acknowledged: acks.size, missing: lost.missing.length, oldestMissingAckMs: oldest, unexpected: lost.unexpected, wrong: lost.wrong, restoreMs: latest.ms, entriesReplayed: latest.report.entriesReplayed },
    };
  } finally {
    for (const p of procs) if (!killed.includes(p)) p.kill('SIGKILL');
  }
}
