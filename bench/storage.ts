/**
 * `npm run bench:storage`: the addon's hot path, measured through the same TypeScript wrappers
 * the node uses.
 *
 * WAL: N concurrent appenders each append one 100-byte entry at a time and await durability;
 * group commit should put many appends behind one fdatasync. io_uring and the pwrite fallback
 * run side by side in this process, in alternating order, so the comparison is fair on a noisy
 * machine (median of `WAL_TRIALS` trials each).
 *
 * Engine: 1M keys with 100-byte values loaded through `apply` (apply throughput), then single
 * `get` latency (p50/p99) and `multiGet` keys/s over uniformly random keys.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type EngineOp, Wal, packBatch } from '../ts/native';
import { mulberry32 } from '../ts/raft/random';
import { median, percentile, printTable, writeResults } from './lib/report';

const ENTRY_BYTES = 100;
const WAL_TRIAL_MS = Number(process.env.QKV_BENCH_WAL_MS ?? 1500);
const WAL_TRIALS = Number(process.env.QKV_BENCH_WAL_TRIALS ?? 3);
const APPENDERS = [1, 16, 64, 256];
const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 1_000_000);
const APPLY_BATCH = 10_000;
const GETS = 200_000;
const MULTIGET_BATCH = 100;
const MULTIGETS = 5_000;

const random = mulberry32(20261124);

function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

interface WalTrial {
  entriesPerSec: number;
  entriesPerSync: number;
  p50Us: number;
  p99Us: number;
}

async function walTrial(backend: 'io_uring' | 'pwrite', appenders: number): Promise<WalTrial> {
  const dir = scratch('qkv-bench-wal-');
  const wal = Wal.open(dir, { backend });
  try {
    if (wal.info().backend !== backend) throw new Error(`asked for ${backend}, got ${wal.info().backend}: ${wal.info().fallbackReason}`);
    const data = Buffer.alloc(ENTRY_BYTES, 0x61);
    let next = wal.lastIndex() + 1;
    const latenciesUs: number[] = [];
    const before = wal.stats();
    const t0 = performance.now();
    const deadline = t0 + WAL_TRIAL_MS;
    const appender = async () => {
      while (performance.now() < deadline) {
        const index = next++;
        const start = performance.now();
        await wal.append([{ index, term: 1, data }]);
        latenciesUs.push((performance.now() - start) * 1000);
      }
    };
    await Promise.all(Array.from({ length: appenders }, appender));
    const seconds = (performance.now() - t0) / 1000;
    const after = wal.stats();
    const syncs = after.syncs - before.syncs;
    return {
      entriesPerSec: latenciesUs.length / seconds,
      entriesPerSync: (after.entries - before.entries) / Math.max(1, syncs),
      p50Us: percentile(latenciesUs, 50),
      p99Us: percentile(latenciesUs, 99),
    };
  } finally {
    wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Zeros written (and synced) ahead of the `zero-filled` baseline's appends: more than a trial writes. */
const PREFILL_BYTES = 64 << 20;

/**
 * The disk's serial rate in this run: one 100-byte pwrite + fdatasync at a time, no WAL, either
 * growing the file (each sync also writes the inode) or inside a file zero-filled beforehand,
 * as the WAL's active segment is (`zero_ahead` in crates/wal/src/writer.rs).
 */
function rawSerialSyncs(file: 'growing' | 'zero-filled'): { file: string; syncsPerSec: number; p50Us: number; p99Us: number } {
  const dir = scratch('qkv-bench-raw-');
  const fd = openSync(join(dir, 'raw'), 'w');
  try {
    if (file === 'zero-filled') {
      writeSync(fd, Buffer.alloc(PREFILL_BYTES), 0, PREFILL_BYTES, 0);
      fdatasyncSync(fd);
    }
    const data = Buffer.alloc(ENTRY_BYTES, 0x61);
    const us: number[] = [];
    const t0 = performance.now();
    let offset = 0;
    while (performance.now() - t0 < WAL_TRIAL_MS && offset + data.length <= PREFILL_BYTES) {
      const s = performance.now();
      writeSync(fd, data, 0, data.length, offset);
      fdatasyncSync(fd);
      us.push((performance.now() - s) * 1000);
      offset += data.length;
    }
    return { file, syncsPerSec: us.length / ((performance.now() - t0) / 1000), p50Us: percentile(us, 50), p99Us: percentile(us, 99) };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchWal() {
  const rows = [];
  for (const appenders of APPENDERS) {
    const trials: Record<'io_uring' | 'pwrite', WalTrial[]> = { io_uring: [], pwrite: [] };
    for (let i = 0; i < WAL_TRIALS; i++) {
      // Alternate the order so drift on a noisy machine does not favour one backend.
      const order: ('io_uring' | 'pwrite')[] = i % 2 === 0 ? ['io_uring', 'pwrite'] : ['pwrite', 'io_uring'];
      for (const backend of order) trials[backend].push(await walTrial(backend, appenders));
    }
    for (const backend of ['io_uring', 'pwrite'] as const) {
      const t = trials[backend];
      rows.push({
        backend,
        appenders,
        entriesPerSec: median(t.map((x) => x.entriesPerSec)),
        entriesPerSync: median(t.map((x) => x.entriesPerSync)),
        p50Us: median(t.map((x) => x.p50Us)),
        p99Us: median(t.map((x) => x.p99Us)),
        trials: t,
      });
    }
  }
  return rows;
}

function key(i: number): Buffer {
  return Buffer.from(`key${String(i).padStart(8, '0')}`);
}

async function benchEngine() {
  const dir = scratch('qkv-bench-engine-');
  const engine = Engine.open(dir);
  try {
    const value = Buffer.alloc(ENTRY_BYTES, 0x62);
    // Apply: batches of APPLY_BATCH puts, each one WriteBatch with the applied index.
    const applyT0 = performance.now();
    let applied = 0;
    for (let lo = 0; lo < KEYS; lo += APPLY_BATCH) {
      const ops: EngineOp[] = [];
      for (let i = lo; i < Math.min(KEYS, lo + APPLY_BATCH); i++) ops.push({ op: 'put', key: key(i), value });
      await engine.applyPacked(packBatch(ops), ++applied);
    }
    const applyKeysPerSec = KEYS / ((performance.now() - applyT0) / 1000);
    await engine.flush();

    const keys = Array.from({ length: GETS }, () => key(random.intn(KEYS)));
    for (let i = 0; i < 50_000; i++) engine.get(keys[i % keys.length]); // warm the cache and JIT
    const getUs: number[] = new Array(GETS);
    const getT0 = performance.now();
    for (let i = 0; i < GETS; i++) {
      const s = performance.now();
      const v = engine.get(keys[i]);
      getUs[i] = (performance.now() - s) * 1000;
      if (!v || v.length !== ENTRY_BYTES) throw new Error(`get ${keys[i].toString()} returned ${v?.length}`);
    }
    const getOpsPerSec = GETS / ((performance.now() - getT0) / 1000);

    const batches = Array.from({ length: MULTIGETS }, () => Array.from({ length: MULTIGET_BATCH }, () => key(random.intn(KEYS))));
    const batchUs: number[] = new Array(MULTIGETS);
    const mgT0 = performance.now();
    for (let i = 0; i < MULTIGETS; i++) {
      const s = performance.now();
      const vs = engine.multiGet(batches[i]);
      batchUs[i] = (performance.now() - s) * 1000;
      if (vs.some((v) => !v || v.length !== ENTRY_BYTES)) throw new Error('multiGet missed a key');
    }
    const multiGetKeysPerSec = (MULTIGETS * MULTIGET_BATCH) / ((performance.now() - mgT0) / 1000);
    return {
      keys: KEYS,
      valueBytes: ENTRY_BYTES,
      applyBatch: APPLY_BATCH,
      applyKeysPerSec,
      get: { ops: GETS, opsPerSec: getOpsPerSec, p50Us: percentile(getUs, 50), p99Us: percentile(getUs, 99) },
      multiGet: { batch: MULTIGET_BATCH, batches: MULTIGETS, keysPerSec: multiGetKeysPerSec, batchP50Us: percentile(batchUs, 50), batchP99Us: percentile(batchUs, 99) },
    };
  } finally {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const baselines = [rawSerialSyncs('growing'), rawSerialSyncs('zero-filled'), rawSerialSyncs('growing'), rawSerialSyncs('zero-filled')];
  const raw = baselines[0];
  const wal = await benchWal();
  printTable('Disk baseline in this run: serial pwrite + fdatasync, one at a time (no WAL), twice each, alternating', baselines.map((b) => ({ file: b.file, 'syncs/s': b.syncsPerSec, 'p50 µs': b.p50Us, 'p99 µs': b.p99Us })));
  printTable(
    `WAL: concurrent appenders, one ${ENTRY_BYTES}-byte entry per append, awaited until durable (median of ${WAL_TRIALS} × ${WAL_TRIAL_MS} ms)`,
    wal.map((r) => ({
      backend: r.backend,
      appenders: r.appenders,
      'entries/s': r.entriesPerSec,
      'entries/fdatasync': r.entriesPerSync,
      'p50 µs': r.p50Us,
      'p99 µs': r.p99Us,
    })),
  );
  const ratios = APPENDERS.map((appenders) => {
    const u = wal.find((r) => r.backend === 'io_uring' && r.appenders === appenders)!;
    const p = wal.find((r) => r.backend === 'pwrite' && r.appenders === appenders)!;
    return {
      appenders,
      'io_uring / pwrite entries/s': `${(u.entriesPerSec / p.entriesPerSec).toFixed(2)}×`,
      'io_uring / serial syncs/s': `${(u.entriesPerSec / raw.syncsPerSec).toFixed(1)}×`,
    };
  });
  printTable('WAL: io_uring relative to the fallback and to serial syncing (same run)', ratios);

  const engine = await benchEngine();
  printTable(`Engine: ${engine.keys.toLocaleString('en-US')} keys, ${ENTRY_BYTES}-byte values`, [
    { operation: `apply (${APPLY_BATCH} puts per WriteBatch)`, 'ops/s': engine.applyKeysPerSec, 'p50 µs': '', 'p99 µs': '' },
    { operation: 'get (random key)', 'ops/s': engine.get.opsPerSec, 'p50 µs': engine.get.p50Us, 'p99 µs': engine.get.p99Us },
    { operation: `multiGet (${MULTIGET_BATCH} keys per call), keys/s`, 'ops/s': engine.multiGet.keysPerSec, 'p50 µs': engine.multiGet.batchP50Us, 'p99 µs': engine.multiGet.batchP99Us },
  ]);
  writeResults('storage', { entryBytes: ENTRY_BYTES, walTrialMs: WAL_TRIAL_MS, walTrials: WAL_TRIALS, rawSerialSync: raw, rawSerialSyncs: baselines, wal, engine });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
