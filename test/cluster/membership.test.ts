/**
 * Membership changes with real processes: new nodes join by `start --join` (snapshot, then
 * log), learners serve reads and are promoted, members are removed (a removed node stops
 * itself; removing the leader hands leadership over first), the cluster grows 3 → 5 and
 * shrinks back under a write load without losing an acknowledged write, and a removed node
 * that never learned of its removal cannot disrupt the others.
 */
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { ProcCluster } from './procs';
import { call, type Reply, writeLoad } from './write_load';

const roles = (r: Reply) => (r.json.members as { id: number; learner: boolean }[]).map((m) => `${m.id}${m.learner ? 'L' : 'V'}`).join(',');

test('the cluster grows 3 → 5 by --join and shrinks back to 3 under a write load, losing no acknowledged write', async (t) => {
  t.timeout(180_000);
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, dir, 3, ['--snapshot-entries', '500', '--snapshot-catchup', '100']);
  const [n1, n2, n3] = cluster.procs;
  await cluster.leader();
  const load = writeLoad(() => [n1, n2, n3], 6);
  t.teardown(() => load.stop()); // a failed assertion must not leave the writers looping
  await pollUntil(() => load.acked.length >= 600, '600 acknowledged writes');

  // Each new node joins as a learner, gets a snapshot, then is promoted once caught up.
  const n4 = await cluster.join(dir, 4, n1);
  await n4.until((e) => e.event === 'promoted');
  t.true(n4.events.some((e) => e.event === 'snapshot_installed'), 'n4 started from a snapshot');
  const n5 = await cluster.join(dir, 5, n2);
  await n5.until((e) => e.event === 'promoted');
  t.is(roles(await call(n3, 'GET', '/v1/cluster/members')), '1V,2V,3V,4V,5V');
  // Every member's client address is recorded: the joiners' came with their addition, the
  // founding members (whose --cluster entries name only peers) published theirs.
  for (const p of [n1, n2, n3]) await p.until((e) => e.event === 'published');
  const listed = (await call(n3, 'GET', '/v1/cluster/members')).json.members as { id: number; client: string }[];
  t.deepEqual(listed.map((m) => m.client), cluster.procs.map((p) => `127.0.0.1:${p.port}`));
  const ackedWhileGrowing = load.acked.length;

  // The new members serve linearizable reads of what was acknowledged before they joined.
  for (const key of load.acked.slice(0, 20)) t.is((await call(n5, 'GET', `/v1/kv/${key}`)).status, 200, key);

  // Shrink back: each removed node applies its removal and stops itself.
  for (const p of [n5, n4]) {
    const removed = await call(n1, 'DELETE', `/v1/cluster/members/n${p.id}`);
    t.is(removed.status, 200, JSON.stringify(removed.json));
    await p.until((e) => e.event === 'removed');
    t.is((await p.exited).code, 0);
  }
  t.is(roles(await call(n2, 'GET', '/v1/cluster/members')), '1V,2V,3V');
  await load.stop();
  t.true(load.acked.length > ackedWhileGrowing, 'writes were acknowledged while the cluster shrank');

  // Every acknowledged write is there, on every remaining node.
  for (const p of [n1, n2, n3]) {
    let found = 0;
    for (let i = 0; i < load.acked.length; i += 1000) {
      const got = await call(p, 'POST', '/v1/kv/get', { keys: load.acked.slice(i, i + 1000) });
      t.is(got.status, 200, JSON.stringify(got.json));
      found += got.json.items.length;
    }
    t.is(found, load.acked.length, `n${p.id} holds every acknowledged write`);
  }
});

test('a learner replicates and serves reads, is promoted; a member is replaced by add-then-remove; removing the leader hands over first', async (t) => {
  t.timeout(120_000);
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, dir);
  const [n1, n2] = cluster.procs;
  const leader = await cluster.leader();
  for (let i = 0; i < 20; i++) t.is((await call(n2, 'PUT', `/v1/kv/before-${i}`, { value: i })).status, 200);

  const n4 = await cluster.join(dir, 4, n1, ['--learner']);
  await n4.until((e) => e.event === 'snapshot_installed');
  t.is(roles(await call(n1, 'GET', '/v1/cluster/members')), '1V,2V,3V,4L');
  // A learner takes no part in votes or commits, but reads: linearizable (ReadIndex through the
  // leader) and stale.
  t.is((await call(n1, 'PUT', '/v1/kv/fresh', { value: 'x' })).status, 200);
  t.is((await call(n4, 'GET', '/v1/kv/fresh')).json.value, 'x');
  t.is((await call(n4, 'GET', '/v1/kv/before-3?consistency=stale')).json.value, 3);
  t.true((await call(n4, 'GET', '/v1/cluster')).json.learner);

  // Bad requests change nothing and get stable codes.
  const bad: [string, string, unknown, number, string][] = [
    ['POST', '/v1/cluster/members', { peer: '127.0.0.1:1' }, 400, 'invalid_member_id'],
    ['POST', '/v1/cluster/members', { id: 7 }, 400, 'invalid_body'],
    ['POST', '/v1/cluster/members', { id: 7, peer: 'nowhere' }, 400, 'invalid_body'],
    ['POST', '/v1/cluster/members', { id: 2, peer: '127.0.0.1:1' }, 409, 'member_exists'],
    ['POST', '/v1/cluster/members', { id: 4, peer: '127.0.0.1:1' }, 409, 'member_exists'],
    ['POST', '/v1/cluster/members/n9/promote', undefined, 404, 'unknown_member'],
    ['POST', '/v1/cluster/members/n2/promote', undefined, 409, 'not_learner'],
    ['DELETE', '/v1/cluster/members/n9', undefined, 404, 'unknown_member'],
    ['GET', '/v1/cluster/members/n2', undefined, 405, 'method_not_allowed'],
    ['PUT', '/v1/kv/%00members', { value: 1 }, 400, 'invalid_key'],
  ];
  for (const [method, path, body, status, code] of bad) {
    const r = await call(n2, method, path, body);
    t.is(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
    t.is(r.json.error?.code, code, `${method} ${path}`);
  }
  t.is(roles(await call(n2, 'GET', '/v1/cluster/members')), '1V,2V,3V,4L');

  const promoted = await call(n2, 'POST', '/v1/cluster/members/n4/promote');
  t.is(promoted.status, 200, JSON.stringify(promoted.json));
  t.false(promoted.json.member.learner);

  // Replace the leader's machine: n4 is in, now remove the leader, asked through a follower.
  const follower = cluster.procs.find((p) => p !== leader && p.id !== 4)!;
  const seen = new Map(cluster.procs.map((p) => [p, p.events.length]));
  const removed = await call(follower, 'DELETE', `/v1/cluster/members/n${leader.id}`);
  t.is(removed.status, 200, JSON.stringify(removed.json));
  t.not(removed.json.leader, leader.id);
  await leader.until((e) => e.event === 'removed');
  t.is((await leader.exited).code, 0);
  // Leadership was handed over before the removal: the new leader campaigned at once (a
  // transfer skips PreVote); nobody waited out an election timeout (which starts with PreVote).
  for (const p of cluster.alive()) {
    t.false(p.events.slice(seen.get(p)).some((e) => e.event === 'role' && e.state === 'pre-candidate'), `n${p.id} campaigned after a timeout`);
  }

  const survivors = cluster.alive();
  t.deepEqual(survivors.map((p) => p.id).sort(), [1, 2, 3, 4].filter((id) => id !== leader.id));
  for (const p of survivors) {
    t.is((await call(p, 'PUT', `/v1/kv/after-n${p.id}`, { value: p.id })).status, 200);
    const all = await call(p, 'GET', '/v1/kv?prefix=before-');
    t.is(all.json.items.length, 20);
  }
  const scan = await call(n4, 'GET', '/v1/kv');
  t.false((scan.json.items as { key: string }[]).some((i) => i.key.startsWith('\u0000')), 'the membership record is not a user key');
});

test('a removed member that never learned of its removal is told so by the others and stops, disrupting nothing', async (t) => {
  t.timeout(60_000);
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const x = cluster.procs.find((p) => p !== leader)!;
  const before = (await call(leader, 'GET', '/v1/cluster')).json.term;

  // x is down while it is removed, so its log ends before its removal; then it comes back.
  x.child.kill('SIGKILL');
  await x.exited;
  const removed = await call(leader, 'DELETE', `/v1/cluster/members/n${x.id}`);
  t.is(removed.status, 200, JSON.stringify(removed.json));
  for (let i = 0; i < 50; i++) t.is((await call(leader, 'PUT', `/v1/kv/k${i}`, { value: i })).status, 200);
  x.spawn();

  // Whatever it sends first (a PreVote, or an answer to a farewell) is answered with a removal
  // notice naming the index of its removal: it stops as if it had applied it.
  const stopped = await x.until((e) => e.event === 'removed');
  t.true(Number(stopped.index) > 0);
  t.is((await x.exited).code, 0);
  const after = (await call(leader, 'GET', '/v1/cluster')).json;
  t.is(after.term, before, 'no term moved');
  t.is(after.leader, leader.id);
  t.false(x.events.some((e) => e.event === 'role' && e.state === 'leader'));
  t.is((await call(leader, 'PUT', '/v1/kv/after', { value: 1 })).status, 200);
});
