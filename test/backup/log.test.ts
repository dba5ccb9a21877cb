/**
 * Continuous log backup on a real 3-node cluster with a directory target: the leader takes a
 * base full backup by itself and ships committed entries every 200 ms; the lag is exported; a
 * new leader continues the log without a gap after the old one is killed; `verify` reads the chain
 * back; point-in-time restores to an index and to a time hold exactly the writes up to that point,
 * key by key; the default restore rolls the newest backup forward to the end of the log and starts
 * as a cluster; a damaged segment is refused by name.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { Engine } from '../../ts/native';
import { decodeStored } from '../../ts/node/commands';
import { freePorts } from '../helpers/ports';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { Proc, ProcCluster } from '../cluster/procs';
import { call, cli } from '../helpers/backup_cli';


/** Writes keys `from..to` tagged `tag` in one batch; resolves to the batch's revision (its log index). */
async function writeKeys(p: Proc, from: number, to: number, tag: string): Promise<number> {
  const ops = [];
  for (let i = from; i < to; i++) ops.push({ op: 'put', key: `k${String(i).padStart(4, '0')}`, value: { tag, i } });
  const r = await call(p, 'POST', '/v1/batch', { ops });
  if (r.status !== 200) throw new Error(`batch: ${JSON.stringify(r.json)}`);
  return r.json.results[0].revision as number;
}

/** The keys and tags a restored member's engine holds (read directly, the node not running). */
function restoredKeys(dataDir: string): Map<string, string> {
  const engine = Engine.open(join(dataDir, 'engine'));
  try {
    const out = new Map<string, string>();
    for (let i = 0; i < 400; i++) {
      const key = `k${String(i).padStart(4, '0')}`;
      const raw = engine.get(key);
      if (raw) out.set(key, (JSON.parse(decodeStored(raw).value.toString('utf8')) as { tag: string }).tag);
    }
    return out;
  } finally {
    engine.close();
  }
}

/** What the writes so far should leave: key → the tag of its last write. */
function expected(writes: [from: number, to: number, tag: string][]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [from, to, tag] of writes) for (let i = from; i < to; i++) out.set(`k${String(i).padStart(4, '0')}`, tag);
  return out;
}

/**
 * The log is in the target through `index`: shipped by whichever member leads (a loaded host may
 * move leadership; the next leader continues after the checkpoint).
 */
async function shippedThrough(cluster: ProcCluster, index: number): Promise<void> {
  const shipped = async (p: Proc) => ((await call(p, 'GET', '/v1/backups')).json.log?.shippedIndex ?? 0) as number;
  await pollUntil(async () => (await Promise.all(cluster.alive().map(shipped))).some((i) => i >= index), `the log to be shipped through index ${index}`, 30_000, 50);
}

test('continuous log backup: shipped by the leader, handed over without a gap, verified, restored to an index, a time and the end', async (t) => {
  const dir = tempDir(t);
  const target = pathToFileURL(join(dir, 'store')).href;
  // Small snapshots: compaction runs often, and must keep what is not yet shipped.
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3, ['--backup-target', target, '--backup-log-every', '200ms', '--snapshot-entries', '20', '--snapshot-catchup', '0']);
  const leader = await cluster.leader();
  // The leader takes the base full backup by itself before it ships anything.
  await shippedThrough(cluster, 1);
  t.deepEqual(leader.events.filter((e) => e.event === 'backup_log_base').length, 1);
  const writes: [number, number, string][] = [];
  const revisions: number[] = [];
  const put = async (p: Proc, from: number, to: number, tag: string) => {
    revisions.push(await writeKeys(p, from, to, tag));
    writes.push([from, to, tag]);
  };
  await put(leader, 0, 100, 'a');
  for (let i = 0; i < 30; i++) await put(leader, 100 + i, 101 + i, 'b'); // 30 entries: snapshots happen
  await shippedThrough(cluster, revisions[revisions.length - 1]);
  const afterB = expected(writes);
  const bIndex = revisions[revisions.length - 1];
  // A time between the b writes and the c writes, with more than a sample interval on each side.
  await new Promise((r) => setTimeout(r, 400));
  const between = new Date();
  await new Promise((r) => setTimeout(r, 400));
  await put(leader, 50, 150, 'c');
  await shippedThrough(cluster, revisions[revisions.length - 1]);
  const shipper = await cluster.leader();
  const status = (await call(shipper, 'GET', '/v1/backups')).json;
  t.is(status.log.gaps, 0, JSON.stringify(status.log));
  // (Counted by the member that shipped them: where leadership moved, each shipped its share.)
  if (shipper === leader) t.true(status.log.segments > 1);
  t.regex(await (await fetch(shipper.url('/metrics'))).text(), /^quorumkv_backup_lag_seconds \d/m);

  // The leader dies: the next one continues after the checkpoint.
  shipper.child!.kill('SIGKILL');
  await new Promise((r) => shipper.child!.once('exit', r));
  const next = await cluster.leader();
  t.not(next, shipper);
  await put(next, 300, 320, 'd');
  await shippedThrough(cluster, revisions[revisions.length - 1]);
  t.is((await call(next, 'GET', '/v1/backups')).json.log.gaps, 0, 'no gap at the handover');

  const verified = cli('backup', 'verify', '--target', target);
  t.is(verified.status, 0, verified.err);
  const log = JSON.parse(verified.out).log;
  t.deepEqual(log.gaps, []);
  t.true(log.last >= revisions[revisions.length - 1], JSON.stringify(log));

  const ports = await freePorts(6);
  const clusterArg = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const restore = (out: string, ...extra: string[]) => {
    const r = cli('restore', '--from', target, '--out', join(dir, out), '--cluster', clusterArg, '--quiet', ...extra);
    t.is(r.status, 0, r.err);
    return JSON.parse(r.out) as { index: number; baseIndex: number; entriesReplayed: number };
  };
  const atIndex = restore('at-index', '--index', String(bIndex));
  t.is(atIndex.index, bIndex);
  t.true(atIndex.entriesReplayed > 0, `the log was replayed onto the base at ${atIndex.baseIndex}`);
  t.deepEqual(restoredKeys(join(dir, 'at-index', 'n2')), afterB, 'exactly the writes up to the index');
  const atTime = restore('at-time', '--time', between.toISOString());
  t.deepEqual(restoredKeys(join(dir, 'at-time', 'n1')), afterB, 'exactly the writes committed by the time');
  const latest = restore('latest');
  t.deepEqual(restoredKeys(join(dir, 'latest', 'n3')), expected(writes), 'every acknowledged write');
  t.log(`restored to index ${atIndex.index} and at ${between.toISOString()} (index ${atTime.index}); latest ${latest.index} from base ${latest.baseIndex} + ${latest.entriesReplayed} entries`);

  cluster.killAll();
  await Promise.all(cluster.procs.map((p) => p.exited));
  const segmentsBefore = readdirSync(join(dir, 'store', 'wal')).filter((n) => n.endsWith('.seg.zst')).length;
  // The latest restore runs as a cluster (a new one: pointed at the old target, it refuses to write there).
  const procs = [1, 2, 3].map((id) => new Proc(id, ports[id - 1], ['--id', `n${id}`, '--data', join(dir, 'latest', `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', clusterArg, '--backup-target', target]));
  t.teardown(() => procs.forEach((p) => p.child?.kill('SIGKILL')));
  for (const p of procs) p.spawn();
  await Promise.all(procs.map((p) => p.until((e) => e.event === 'ready')));
  const restored = await Object.assign(new ProcCluster(), { procs }).leader();
  t.like((await call(restored, 'GET', '/v1/kv/k0310?consistency=linearizable')).json, { value: { tag: 'd', i: 310 } });
  const foreign = /holds the (log|backups) of cluster [0-9a-f]{16}; this is cluster [0-9a-f]{16}/;
  const refusedFull = await call(restored, 'POST', '/v1/backups');
  t.is(refusedFull.status, 400);
  t.is(refusedFull.json.error.code, 'backup_target_invalid');
  t.regex(refusedFull.json.error.message, foreign);
  await pollUntil(async () => foreign.test(String((await call(restored, 'GET', '/v1/backups')).json.log?.lastError)), 'the shipper refusing the old cluster\'s log');
  t.is(readdirSync(join(dir, 'store', 'wal')).filter((n) => n.endsWith('.seg.zst')).length, segmentsBefore, 'nothing shipped into the old cluster\'s log');

  // A damaged segment: verify and restore refuse, naming it.
  const segment = readdirSync(join(dir, 'store', 'wal')).find((n) => n.endsWith('.seg.zst'))!;
  const path = join(dir, 'store', 'wal', segment);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(path, bytes);
  const bad = cli('backup', 'verify', '--target', target);
  t.is(bad.status, 1);
  t.regex(bad.err, new RegExp(`backup_corrupt.*${segment.replace(/\./g, '\\.')}`));
});
