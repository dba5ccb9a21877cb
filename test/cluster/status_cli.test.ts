/**
 * `quorumkv status --cluster` asks every member for its own view, as etcdctl's `endpoint status
 * --cluster`: with a member killed, its row says it did not answer, the others name the same
 * leader, and the command exits 1. `quorumkv defrag` asks one member, `--cluster` each in turn,
 * with the same member list and the same row for one that does not answer.
 */
import test from 'ava';
import { runCli as cli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { ProcCluster } from './procs';

type Row = { id: number; state?: string; leader?: number; term?: number; appliedIndex?: number; error?: { code: string } };
type DefragRow = { id: number; member?: number; sstBytesAfter?: number; snapshotIndex?: number | null; error?: { code: string } };

test('status --cluster and defrag --cluster reach each member, and name the one that does not answer', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3);
  const leader = await cluster.leader();
  const follower = cluster.alive().find((p) => p !== leader)!;
  const other = cluster.alive().find((p) => p !== leader && p !== follower)!;
  // Each member publishes its client address through the log once started (its own view shows
  // it at once): both followers must have applied every member's first.
  const published = async (p: typeof other) => ((await (await fetch(p.url('/v1/cluster/members'))).json()) as { members: { client: string | null }[] }).members.every((m) => m.client !== null);
  await pollUntil(async () => (await published(follower)) && (await published(other)), 'every client address is published', 30_000);
  const all = await cli(['status', '--cluster', '--endpoint', follower.url('')]);
  t.is(all.code, 0, all.stderr);
  const rows = (JSON.parse(all.stdout) as { members: Row[] }).members;
  t.deepEqual(rows.map((r) => r.id), [1, 2, 3]);
  t.deepEqual(rows.map((r) => r.leader), [leader.id, leader.id, leader.id]);
  t.deepEqual(rows.map((r) => r.state).sort(), ['follower', 'follower', 'leader']);

  const one = await cli(['defrag', '--endpoint', `${other.url('')},${leader.url('')}`]);
  t.is(one.code, 0, one.stderr);
  t.is(JSON.parse(one.stdout).member, other.id, 'the first endpoint\'s member alone');
  const defrags = await cli(['defrag', '--cluster', '--endpoint', follower.url('')]);
  t.is(defrags.code, 0, defrags.stderr);
  const done = (JSON.parse(defrags.stdout) as { members: DefragRow[] }).members;
  t.deepEqual(done.map((r) => r.member), [1, 2, 3]);
  t.true(done.every((r) => typeof r.sstBytesAfter === 'number' && r.snapshotIndex !== undefined), defrags.stdout);

  follower.child.kill('SIGKILL');
  await follower.exited;
  const down = await cli(['status', '--cluster', '--endpoint', `${follower.url('')},${other.url('')}`]);
  t.is(down.code, 1);
  const after = (JSON.parse(down.stdout) as { members: Row[] }).members;
  t.is(after.find((r) => r.id === follower.id)!.error!.code, 'unreachable');
  t.deepEqual(after.filter((r) => r.id !== follower.id).map((r) => r.leader), [leader.id, leader.id]);
  const partly = await cli(['defrag', '--cluster', '--endpoint', other.url('')]);
  t.is(partly.code, 1);
  const rest = (JSON.parse(partly.stdout) as { members: DefragRow[] }).members;
  t.is(rest.find((r) => r.id === follower.id)!.error!.code, 'unreachable');
  t.deepEqual(rest.filter((r) => r.id !== follower.id).map((r) => r.member), [leader.id, other.id].sort());
});
