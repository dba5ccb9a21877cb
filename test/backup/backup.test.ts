/**
 * Full backups to a directory target on a real 3-node cluster: the first uploads everything, a
 * second after more writes reuses the SSTs the store has; `backup list` and `verify` read the
 * target; `restore` writes a new 3-node cluster from the first backup, which elects a leader and
 * serves exactly the state at that backup's index (later writes absent) and takes new writes; a
 * damaged object is refused by verify and restore with its name.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';
import { type LogEvent, Proc, ProcCluster } from '../cluster/procs';
import { call, cli } from '../helpers/backup_cli';
import { type Manifest, sealManifest } from '../../ts/backup/manifest';


async function writeKeys(p: Proc, from: number, to: number, tag: string): Promise<void> {
  const ops = [];
  for (let i = from; i < to; i++) ops.push({ op: 'put', key: `k${String(i).padStart(4, '0')}`, value: { tag, i, pad: 'x'.repeat(200) } });
  const r = await call(p, 'POST', '/v1/batch', { ops });
  if (r.status !== 200) throw new Error(`batch: ${JSON.stringify(r.json)}`);
}

/** The restored data directories as a new cluster on the ports the restore was told (`cluster`). */
function restoredProcs(t: import('ava').ExecutionContext, out: string, ports: number[], cluster: string): Proc[] {
  const procs = [1, 2, 3].map((id) => new Proc(id, ports[id - 1], ['--id', `n${id}`, '--data', join(out, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', cluster]));
  t.teardown(() => procs.forEach((p) => p.child?.kill('SIGKILL')));
  return procs;
}

/**
 * A member of the old cluster started in a restored member's place (its id, its peer address,
 * the new --cluster) is refused both ways — it could otherwise win an election with its longer
 * log — and the new cluster carries on without it.
 */
async function strayRefused(t: ExecutionContext, c: { old: ProcCluster; fresh: ProcCluster; clusterArg: string; dataDir: string; clientPort: number; ids: [string, string] }): Promise<void> {
  const leader = await c.fresh.leader();
  const victim = c.fresh.procs.find((p) => p !== leader)!;
  victim.child.kill('SIGKILL');
  await victim.exited;
  const old = c.old.procs[victim.id - 1];
  old.child.kill('SIGKILL');
  await old.exited;
  const peerListen = c.clusterArg.split(',')[victim.id - 1].split('=')[1];
  const stray = new Proc(victim.id, c.clientPort, ['--id', `n${victim.id}`, '--data', join(c.dataDir, `n${victim.id}`), '--listen', `127.0.0.1:${c.clientPort}`, '--peer-listen', peerListen, '--cluster', c.clusterArg]);
  t.teardown(() => stray.child?.kill('SIGKILL'));
  stray.spawn();
  const refusal = (from: string, ours: string) => (e: LogEvent) => e.event === 'peer_protocol_error' && String(e.message).includes(`belongs to cluster ${from}, this node to cluster ${ours}`);
  await stray.until(refusal(c.ids[1], c.ids[0]));
  await Promise.any(c.fresh.procs.filter((p) => p !== victim).map((p) => p.until(refusal(c.ids[0], c.ids[1]))));
  t.is((await call(leader, 'PUT', '/v1/kv/after-stray', { value: 2 })).status, 200, 'the new cluster carries on');
  t.is((await call(stray, 'GET', '/v1/cluster')).json.clusterId, c.ids[0]);
  t.is((await call(stray, 'GET', '/v1/kv/after-restore?consistency=stale')).status, 404, 'the stray learnt nothing of the new cluster');
}

test('full backups to a directory: shared SSTs, list, verify, restore into a new cluster at the backup index, damage refused', async (t) => {
  const dir = tempDir(t);
  const target = pathToFileURL(join(dir, 'store')).href;
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3, ['--backup-target', target, '--backup-log-every', 'off']);
  const leader = await cluster.leader();
  await writeKeys(leader, 0, 300, 'first');
  const first = await call(leader, 'POST', '/v1/backups');
  t.is(first.status, 201, JSON.stringify(first.json));
  t.true(first.json.files > 0);
  t.is(first.json.bytesUploaded, first.json.bytes, 'the first backup uploads everything');
  await writeKeys(leader, 250, 330, 'second');
  const second = (await call(leader, 'POST', '/v1/backups')).json;
  t.true(second.index > first.json.index);
  t.true(second.objectsReused > 0, `SSTs shared with the first backup: ${JSON.stringify(second)}`);
  t.true(second.bytesUploaded < second.bytes);
  t.log(`second backup uploaded ${second.bytesUploaded} of ${second.bytes} bytes (${second.objectsReused} of ${second.files} files reused)`);
  t.like((await call(leader, 'GET', '/v1/backups')).json, { target, running: false, failures: 0, last: { index: second.index } });
  const metrics = await (await fetch(leader.url('/metrics'))).text();
  t.regex(metrics, new RegExp(`^quorumkv_backup_last_uploaded_bytes ${second.bytesUploaded}$`, 'm'));
  t.regex(metrics, /^quorumkv_backup_failures 0$/m);
  t.regex(metrics, /^quorumkv_backup_last_success_timestamp_seconds \d/m);

  const listed = cli('backup', 'list', '--target', target);
  t.is(listed.status, 0, listed.err);
  t.deepEqual(JSON.parse(listed.out).backups.map((b: { index: number }) => b.index), [first.json.index, second.index]);
  const verified = cli('backup', 'verify', '--target', target);
  t.is(verified.status, 0, verified.err);
  t.is(JSON.parse(verified.out).backups.length, 2);
  // Deep: each backup downloaded, opened, and its state digest recomputed.
  const deep = cli('backup', 'verify', '--target', target, '--deep', '--scratch', dir);
  t.is(deep.status, 0, deep.err);
  const digests = JSON.parse(deep.out).backups.map((b: { stateSha256: string }) => b.stateSha256);
  t.is(digests.length, 2);
  t.true(digests.every((d: string) => /^[0-9a-f]{64}$/.test(d)) && digests[0] !== digests[1], JSON.stringify(digests));
  // A manifest whose recorded digest does not match the state its files hold (re-sealed, so only --deep can tell).
  const manifestPath = join(dir, 'store', first.json.manifest);
  const original = readFileSync(manifestPath);
  const { checksum: _, ...doc } = JSON.parse(original.toString('utf8')) as Manifest;
  writeFileSync(manifestPath, sealManifest({ ...doc, stateSha256: digests[1] }));
  t.is(cli('backup', 'verify', '--target', target).status, 0, 'every object is intact');
  const wrong = cli('backup', 'verify', '--target', target, '--deep', '--index', String(first.json.index));
  t.is(wrong.status, 1);
  t.regex(wrong.err, /backup_corrupt.*digest/);
  writeFileSync(manifestPath, original);

  // Restore the first backup into a new cluster (other ports, other directories).
  const ports = await freePorts(7);
  const out = join(dir, 'restored');
  const clusterArg = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const restored = cli('restore', '--from', target, '--index', String(first.json.index), '--out', out, '--cluster', clusterArg, '--quiet');
  t.is(restored.status, 0, restored.err);
  t.deepEqual(readdirSync(out).sort(), ['n1', 'n2', 'n3']);
  // The backup names its cluster; the restored cluster is a new one (etcd's rule), in every member.
  const oldId = (await call(leader, 'GET', '/v1/cluster')).json.clusterId as string;
  t.regex(oldId, /^[0-9a-f]{16}$/);
  t.is((JSON.parse(original.toString('utf8')) as Manifest).clusterId, oldId);
  const newId = JSON.parse(restored.out).clusterId as string;
  t.regex(newId, /^[0-9a-f]{16}$/);
  t.not(newId, oldId);
  for (const id of [1, 2, 3]) t.is(readFileSync(join(out, `n${id}`, 'cluster_id'), 'utf8').trim(), newId);
  const procs = restoredProcs(t, out, ports, clusterArg);
  for (const p of procs) p.spawn();
  await Promise.all(procs.map((p) => p.until((e) => e.event === 'ready')));
  const fresh = Object.assign(new ProcCluster(), { procs });
  const newLeader = await fresh.leader();
  t.like((await call(newLeader, 'GET', '/v1/kv/k0260')).json, { value: { tag: 'first', i: 260 } });
  t.is((await call(newLeader, 'GET', '/v1/kv/k0310')).status, 404, 'writes after the backup are not in it');
  const scan = (await call(newLeader, 'GET', '/v1/kv?limit=1000')).json;
  t.is(scan.items.length, 300);
  const members = (await call(newLeader, 'GET', '/v1/cluster/members')).json.members as { id: number; peer: string; learner: boolean }[];
  t.deepEqual(members.map((m) => [m.id, m.peer, m.learner]), [1, 2, 3].map((id) => [id, `127.0.0.1:${ports[2 + id]}`, false]));
  t.is((await call(newLeader, 'PUT', '/v1/kv/after-restore', { value: 1 })).status, 200);
  for (const p of procs) t.is((await call(p, 'GET', '/v1/kv/after-restore?consistency=linearizable')).status, 200);
  t.is((await call(newLeader, 'GET', '/v1/cluster')).json.clusterId, newId);
  await strayRefused(t, { old: cluster, fresh, clusterArg, dataDir: join(dir, 'data'), clientPort: ports[6], ids: [oldId, newId] });

  // Damage one SST object: verify and restore refuse, naming it.
  const newest = JSON.parse(readFileSync(join(dir, 'store', second.manifest), 'utf8')) as { files: { object: string }[] };
  const sst = newest.files.find((f) => f.object.startsWith('sst/'))!.object;
  const path = join(dir, 'store', sst);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(path, bytes);
  const bad = cli('backup', 'verify', '--target', target);
  t.is(bad.status, 1);
  t.regex(bad.err, new RegExp(`backup_corrupt.*${sst}`));
  const badRestore = cli('restore', '--from', target, '--out', join(dir, 'again'), '--cluster', clusterArg, '--quiet');
  t.is(badRestore.status, 1);
  t.regex(badRestore.err, /backup_corrupt/);
});

test('retention: after each backup older ones go, then every object no remaining backup needs; the newest stays whole', async (t) => {
  const dir = tempDir(t);
  const target = pathToFileURL(join(dir, 'store')).href;
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 1, ['--backup-target', target, '--backup-retention', '1ms', '--backup-log-every', 'off']);
  const node = await cluster.leader();
  let deleted = 0;
  let last: any;
  // Each backup's checkpoint flushes a new SST; after a few, RocksDB compacts them away, so the
  // oldest backups hold SSTs the newest does not.
  for (let round = 0; round < 6; round++) {
    await writeKeys(node, round * 200, round * 200 + 300, `round-${round}`);
    const r = await call(node, 'POST', '/v1/backups');
    t.is(r.status, 201, JSON.stringify(r.json));
    last = r.json;
    deleted += r.json.pruned?.objectsDeleted ?? 0;
  }
  t.true(deleted > 0, 'objects only expired backups held were deleted');
  const listed = JSON.parse(cli('backup', 'list', '--target', target).out).backups as { index: number }[];
  t.deepEqual(listed.map((b) => b.index), [last.index], 'only the newest backup is left');
  const newest = JSON.parse(readFileSync(join(dir, 'store', last.manifest), 'utf8')) as { files: { object: string }[] };
  const kept = newest.files.map((f) => f.object).filter((o) => o.startsWith('sst/')).sort();
  t.deepEqual(readdirSync(join(dir, 'store', 'sst')).map((n) => `sst/${n}`).sort(), kept, 'exactly the SSTs the newest backup needs');
  t.deepEqual(readdirSync(join(dir, 'store', 'pending')), [], 'no backup left a pending marker');
  t.is(cli('backup', 'verify', '--target', target).status, 0);
});
