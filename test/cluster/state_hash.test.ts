/**
 * `quorumkv hash --cluster` (etcdctl's `endpoint hashkv --cluster`): one hash entry, then every
 * member's digest of the state as of it — equal while writes go on, since members apply the same
 * entries whatever their batching; and a member whose data changed under it (here: a key written
 * straight into its engine while it was down) is named, with exit 1.
 */
import { join } from 'node:path';
import test from 'ava';
import { encodeStored } from '../../ts/node/commands';
import { Engine } from '../../ts/native';
import { runCli as cli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

type Row = { id: number; sha256?: string; differs?: boolean; error?: { code: string } };

const status = async (p: Proc): Promise<{ appliedIndex: number }> => (await (await fetch(p.url('/v1/cluster'))).json()) as { appliedIndex: number };

test('hash --cluster: every member digests the same state; one whose data changed under it is named', async (t) => {
  t.timeout(180_000);
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, join(dir, 'data'), 3);
  const leader = await cluster.leader();
  const follower = cluster.alive().find((p) => p !== leader)!;
  const published = async (p: Proc) => ((await (await fetch(p.url('/v1/cluster/members'))).json()) as { members: { client: string | null }[] }).members.every((m) => m.client !== null);
  await pollUntil(async () => (await Promise.all(cluster.alive().map(published))).every(Boolean), 'every client address is published', 30_000);

  // Writes go on while the hash is taken: each member applies them in batches of its own.
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) await fetch(leader.url(`/v1/kv/k${i % 50}`), { method: 'PUT', body: JSON.stringify({ value: i }) });
  })();
  const same = await cli(['hash', '--cluster', '--endpoint', follower.url('')]);
  writing = false;
  await writer;
  t.is(same.code, 0, `${same.stdout}${same.stderr}`);
  const agreed = JSON.parse(same.stdout) as { index: number; consistent: boolean; members: Row[] };
  t.true(agreed.consistent);
  t.deepEqual(agreed.members.map((m) => m.id), [1, 2, 3]);
  t.is(new Set(agreed.members.map((m) => m.sha256)).size, 1);
  t.regex(agreed.members[0].sha256!, /^[0-9a-f]{64}$/);

  // A follower's data changes under it: everything it applied is in its engine's files (a
  // defrag flushes them), one more write is applied, then while it is down a key is written
  // straight into its engine.
  t.is((await cli(['defrag', '--endpoint', follower.url('')])).code, 0);
  const put = (await (await fetch(leader.url('/v1/kv/last'), { method: 'PUT', body: JSON.stringify({ value: 1 }) })).json()) as { revision: number };
  await pollUntil(async () => (await status(follower)).appliedIndex >= put.revision, 'the follower to apply the last write');
  follower.child.kill('SIGKILL');
  await follower.exited;
  const engine = Engine.open(join(dir, 'data', `n${follower.id}`, 'engine'));
  const at = engine.appliedIndex();
  await engine.apply([{ op: 'put', key: 'stray', value: encodeStored(at + 1, Buffer.from('"x"')) }], at + 1);
  engine.close();
  follower.spawn();
  await follower.until((e) => e.event === 'ready');

  const differ = await cli(['hash', '--cluster', '--endpoint', leader.url('')]);
  t.is(differ.code, 1, differ.stderr);
  const found = JSON.parse(differ.stdout) as { consistent: boolean; members: Row[] };
  t.false(found.consistent);
  t.deepEqual(found.members.filter((m) => m.differs).map((m) => m.id), [follower.id]);
  t.true(found.members.every((m) => typeof m.sha256 === 'string'), 'every member answered');
});
