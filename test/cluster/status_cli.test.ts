/**
 * `quorumkv status --cluster` asks every member for its own view, as etcdctl's `endpoint status
 * --cluster`: with a member killed, its row says it did not answer, the others name the same
 * leader, and the command exits 1.
 */
import test from 'ava';
import { runCli as cli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { ProcCluster } from './procs';

type Row = { id: number; state?: string; leader?: number; term?: number; appliedIndex?: number; error?: { code: string } };

test('status --cluster shows each member\'s own view, and which one does not answer', async (t) => {
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

  follower.child.kill('SIGKILL');
  await follower.exited;
  const one = await cli(['status', '--cluster', '--endpoint', `${follower.url('')},${other.url('')}`]);
  t.is(one.code, 1);
  const after = (JSON.parse(one.stdout) as { members: Row[] }).members;
  t.is(after.find((r) => r.id === follower.id)!.error!.code, 'unreachable');
  t.deepEqual(after.filter((r) => r.id !== follower.id).map((r) => r.leader), [leader.id, leader.id]);
});
