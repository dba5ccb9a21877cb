/**
 * `npm run bench:dr`: full backups and restore at scale, against a real S3-compatible server
 * (versitygw, from scripts/setup-debian.sh). A 3-node cluster (dist/) loads `QKV_BENCH_KEYS`
 * keys (default 1M, 100-byte incompressible values, transactions of 100), then:
 * - a full backup: time, bytes;
 * - 10% of the keys rewritten, a second full backup: bytes uploaded against a naive full copy
 *   (the storage-cost claim, measured);
 * - foreground writes (32 concurrent single-key PUTs) while a backup runs vs the same time
 *   without one, at each backup read rate of `QKV_BENCH_RATES_MIB` (default 0 = unlimited, 32,
 *   16 MiB/s), `ROUNDS` pairs each: the median of the paired ratios;
 * - restore of the second backup into a new 3-node cluster: download + data directories, then
 *   start until the first linearizable read (RTO).
 * Then the continuous log (bench/dr_log.ts): point-in-time restore checked key by key, and the
 * RPO when every node and its data is destroyed under write load.
 * `QKV_BENCH_DR_PARTS` (default `full,log`) picks the parts. JSON: bench/results/dr.json (full),
 * bench/results/dr_log.json (log).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeader, freePorts, launch, MAIN, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, writeResults } from './lib/report';
import { s3Target, spawnVersitygw } from '../test/helpers/versitygw';
import { type LogResults, logPhase } from './dr_log';
import { NODE_V8_FLAGS } from '../ts/cli/node_flags';

const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 3);
/** Backup read rates compared (MiB/s; 0: unlimited). */
const RATES_MIB = (process.env.QKV_BENCH_RATES_MIB ?? '0,32,16').split(',').map(Number);
const PER_TXN = 100;
const key = (i: number) => `key${String(i).padStart(8, '0')}`;
const value = () => randomBytes(75).toString('base64');

async function request(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function startS3(dir: string): Promise<{ proc: ChildProcess; target: (prefix: string) => string }> {
  const { proc, endpoint, env } = await spawnVersitygw(join(dir, 's3'), 'backups');
  Object.assign(process.env, env); // the nodes and the restore take credentials from the AWS environment
  return { proc, target: (prefix) => s3Target('backups', prefix, endpoint) };
}

/** Puts keys `from..to` (in transactions of PER_TXN, 32 at a time). */
async function load(url: string, keys: number[]): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < keys.length) {
      const chunk = keys.slice(next, next + PER_TXN);
      next += PER_TXN;
      const body = { compare: [], success: chunk.map((k) => ({ op: 'put', key: key(k), value: value() })) };
      // A timeout, an overloaded node or an election under this load: put the same values again
      // (idempotent), backing off.
      for (let attempt = 0; ; attempt++) {
        const r = await request(url, 'POST', '/v1/txn', body);
        if (r.status === 200) break;
        if (![429, 503, 504].includes(r.status) || attempt >= 50) throw new Error(`load: ${r.status} ${JSON.stringify(r.json)}`);
        await new Promise((res) => setTimeout(res, 100 * Math.min(attempt + 1, 10)));
      }
    }
  }));
  return (performance.now() - started) / 1000;
}

/** Writes/s of 32 concurrent single-key PUTs until `done` resolves. */
async function writesDuring(url: string, done: Promise<unknown>): Promise<number> {
  let stop = false;
  let writes = 0;
  const started = performance.now();
  void done.finally(() => (stop = true));
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (!stop) {
      const r = await request(url, 'PUT', `/v1/kv/${key(randomInt(KEYS))}`, { value: value() });
      if (r.status === 200) writes++;
    }
  }));
  return writes / ((performance.now() - started) / 1000);
}

async function backup(url: string, rateMib = 0): Promise<{ index: number; bytes: number; bytesUploaded: number; files: number; ms: number }> {
  const r = await request(url, 'POST', '/v1/backups', { rateMib });
  if (r.status !== 201) throw new Error(`backup: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/** Restore into a new 3-node cluster; ms to download + write, and to its first linearizable read. */
async function restoreAndRead(dir: string, target: string, index: number): Promise<{ restoreMs: number; firstReadMs: number; procs: ChildProcess[] }> {
  const ports = await freePorts(6);
  const cluster = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const out = join(dir, 'restored');
  const started = performance.now();
  const r = spawnSync(process.execPath, [MAIN, 'restore', '--from', target, '--index', String(index), '--out', out, '--cluster', cluster, '--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`restore: ${r.stderr}`);
  const restoreMs = performance.now() - started;
  const procs = await Promise.all([1, 2, 3].map((id) => launch(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', '--id', `n${id}`, '--data', join(out, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', cluster], /"event":"ready"/)));
  const url = `http://127.0.0.1:${ports[0]}`;
  for (;;) {
    const got = await request(url, 'GET', `/v1/kv/${key(KEYS - 1)}`).catch(() => ({ status: 0, json: null }));
    if (got.status === 200) break;
    if (got.status !== 503 && got.status !== 0) throw new Error(`read after restore: ${got.status} ${JSON.stringify(got.json)}`);
    await new Promise((res) => setTimeout(res, 5));
  }
  return { restoreMs, firstReadMs: performance.now() - started, procs };
}

type Row = { measure: string; value: number; unit: string; note: string };

/** Full backups, their cost to foreground writes, and restore (RTO). */
async function fullPart(dir: string, target: string, all: ChildProcess[]): Promise<{ rows: Row[]; results: Record<string, unknown> }> {
  const { procs, urls } = await startLocalCluster(join(dir, 'data'), ['--backup-target', target, '--backup-log-every', 'off']);
  all.push(...procs);
  const leader = await findLeader(urls);
  const loadS = await load(leader, Array.from({ length: KEYS }, (_, i) => i));
  console.log(`loaded ${KEYS.toLocaleString()} keys in ${loadS.toFixed(1)} s`);
  const first = await backup(leader);
  const changed = Array.from({ length: KEYS / 10 }, () => randomInt(KEYS));
  await load(leader, changed);
  const second = await backup(leader);
  // Foreground writes during a backup at each read rate vs the same time without one.
  const paced: { rateMib: number; backupS: number; during: number[]; without: number[] }[] = [];
  for (const rateMib of RATES_MIB) {
    const p = { rateMib, backupS: 0, during: [] as number[], without: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const run = backup(leader, rateMib);
      p.during.push(await writesDuring(leader, run));
      const ms = (await run).ms;
      p.backupS = ms / 1000;
      p.without.push(await writesDuring(leader, new Promise((r) => setTimeout(r, ms))));
    }
    paced.push(p);
  }
  await stopAll(procs);
  const restored = await restoreAndRead(dir, target, second.index);
  all.push(...restored.procs);
  const rows = [
    { measure: 'full backup 1', value: first.ms / 1000, unit: 's', note: `${(first.bytes / 2 ** 20).toFixed(1)} MiB in ${first.files} files, all uploaded` },
    { measure: 'full backup 2 (10% keys changed)', value: second.ms / 1000, unit: 's', note: `uploaded ${(second.bytesUploaded / 2 ** 20).toFixed(1)} of ${(second.bytes / 2 ** 20).toFixed(1)} MiB` },
    { measure: 'backup 2 bytes uploaded / naive copy', value: second.bytesUploaded / second.bytes, unit: 'ratio', note: `${((1 - second.bytesUploaded / second.bytes) * 100).toFixed(0)}% saved` },
    ...paced.map((p) => ({
      measure: `writes during / without a backup at ${p.rateMib === 0 ? 'no rate limit' : `${p.rateMib} MiB/s`}`,
      value: median(p.during.map((d, i) => d / p.without[i])),
      unit: 'ratio',
      note: `backup ${p.backupS.toFixed(1)} s; writes/s ${p.during.map((x) => x.toFixed(0)).join(', ')} vs ${p.without.map((x) => x.toFixed(0)).join(', ')} (target ≥ 0.90)`,
    })),
    { measure: 'restore (download + data dirs)', value: restored.restoreMs / 1000, unit: 's', note: '3 members' },
    { measure: 'restore → first linearizable read (RTO)', value: restored.firstReadMs / 1000, unit: 's', note: 'target ≤ 60 s' },
  ];
  await stopAll(restored.procs);
  return { rows, results: { keys: KEYS, loadS, first, second, paced, restoreMs: restored.restoreMs, rtoMs: restored.firstReadMs } };
}

function logRows(r: LogResults): Row[] {
  return [
    { measure: 'log writes (1 entry each)', value: r.entries / r.writeS, unit: 'writes/s', note: `${r.entries.toLocaleString()} entries shipped every 1 s meanwhile` },
    { measure: `point-in-time restore to index ${r.pitr.index}`, value: r.pitr.restoreMs / 1000, unit: 's', note: `base ${r.pitr.baseIndex} + ${r.pitr.entriesReplayed.toLocaleString()} entries replayed; ${r.pitr.checked.toLocaleString()} keys checked: ${r.pitr.missing} missing, ${r.pitr.unexpected} beyond the index, ${r.pitr.wrong} wrong` },
    { measure: 'RPO: acknowledged writes lost (all nodes destroyed)', value: r.rpo.missing, unit: 'writes', note: `of ${r.rpo.acknowledged.toLocaleString()}; the oldest lost was acknowledged ${r.rpo.oldestMissingAckMs ?? 0} ms before the kill; ${r.rpo.wrong} wrong` },
    { measure: 'restore to the end of the log', value: r.rpo.restoreMs / 1000, unit: 's', note: `${r.rpo.entriesReplayed.toLocaleString()} entries replayed` },
    { measure: `restore time, ${r.replay.prefetchSegments} segments ahead / one at a time`, value: r.replay.ratio, unit: 'ratio', note: `${r.replay.aheadMs.map((m) => (m / 1000).toFixed(1)).join(', ')} s vs ${r.replay.oneMs.map((m) => (m / 1000).toFixed(1)).join(', ')} s` },
  ];
}

async function main(): Promise<void> {
  const parts = (process.env.QKV_BENCH_DR_PARTS ?? 'full,log').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-dr-'));
  const all: ChildProcess[] = [];
  try {
    const s3 = await startS3(dir);
    all.push(s3.proc);
    if (parts.includes('full')) {
      const full = await fullPart(dir, s3.target('bench'), all);
      printTable(`disaster recovery, full backups: ${KEYS.toLocaleString()} keys, 3 nodes, versitygw`, full.rows);
      writeResults('dr', { ...full.results, rows: full.rows });
    }
    if (parts.includes('log')) {
      const log = await logPhase(dir, s3.target('log'));
      const rows = logRows(log);
      printTable(`disaster recovery, continuous log: ${log.entries.toLocaleString()} entries, 3 nodes, versitygw`, rows);
      writeResults('dr_log', { ...log, rows });
    }
  } finally {
    await stopAll(all);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
