/**
 * How the client's streams treat the node's last line: a watch whose catch-up the history was
 * trimmed past fails with `compacted` (resuming after the node's revision would skip changes
 * silently), and one the node ends for another reason resumes after the last revision sent. A
 * watch one member answers 410 (each keeps its own history) is opened on another that retains it.
 */
import test from 'ava';
import { QuorumClient } from '../../ts/client';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';

const batch = (url: string, from: number, count: number, value: string) =>
  fetch(url, { method: 'POST', body: JSON.stringify({ ops: Array.from({ length: count }, (_, i) => ({ op: 'put', key: `h/${from + i}`, value })) }) });

test('a watch whose catch-up the history is trimmed past fails compacted, after a prefix of the changes', async (t) => {
  t.timeout(120_000);
  const { url } = await singleNode(t, { watchHistoryMax: 15_000 });
  // 15,000 changes of 3 KB: 45 MB, far more than the socket buffers and the client's take in
  // before the reader reads (CI saw 4.5 MB fit whole, and the catch-up finish).
  const value = 'v'.repeat(3000);
  for (let b = 0; b < 15; b++) t.is((await batch(url('/v1/batch'), b * 1000, 1000, value)).status, 200);
  // HTTP/1.1: over HTTP/2 the client's 16 MiB flow-control window takes in more.
  const client = new QuorumClient({ endpoints: [url('')], protocol: 'h1' });
  t.teardown(() => client.close());
  const changes = client.watch<string>('h/', { fromRevision: 1 })[Symbol.asyncIterator]();
  const keys = [((await changes.next()).value as { key: string }).key];
  // The reader pauses: its catch-up waits at its first MiBs while 15,000 more changes push the
  // rest of it out of the history.
  for (let b = 15; b < 30; b++) t.is((await batch(url('/v1/batch'), b * 1000, 1000, value)).status, 200);
  const failure = await t.throwsAsync(async () => {
    for (let next = await changes.next(); !next.done; next = await changes.next()) keys.push((next.value as { key: string }).key);
  });
  t.like(failure, { code: 'compacted' });
  t.true(keys.length < 15_000, `${keys.length} changes before the end`);
  t.deepEqual(keys, Array.from({ length: keys.length }, (_, i) => `h/${i}`), 'a prefix, without a gap');
});

test('a watch from a revision a member no longer retains (it rejoined by snapshot) opens on a member that does', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3, ['--snapshot-entries', '200', '--snapshot-catchup', '50']);
  const writer = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')) });
  t.teardown(() => writer.close());
  const first = await writer.put('r/0', 0);
  for (let i = 1; i < 20; i++) await writer.put(`r/${i}`, i);
  // A follower that was down while the log compacted past it rejoins by snapshot: its history
  // starts at the snapshot, so revision `first` is compacted there (the others retain it).
  const leader = await cluster.leader();
  const follower = cluster.procs.find((p) => p !== leader)!;
  follower.child.kill('SIGKILL');
  await follower.exited;
  for (let i = 0; i < 400; i++) await writer.put(`x/${i}`, i);
  follower.spawn();
  await follower.until((e) => e.event === 'ready');
  await pollUntil(async () => {
    const res = await fetch(follower.url(`/v1/watch?prefix=r/&fromRevision=${first.revision}`));
    await res.body?.cancel();
    return res.status === 410;
  }, 'the rejoined follower to install a snapshot past revision first');
  // Fresh clients pick a member at random; each one's watch must open, on a member that retains it.
  // (Without the fallback one in three fails: all 16 pass by chance with probability (2/3)^16, 0.15%.)
  for (let n = 0; n < 16; n++) {
    const client = new QuorumClient({ endpoints: cluster.procs.map((p: Proc) => p.url('')) });
    const keys: string[] = [];
    for await (const change of client.watch('r/', { fromRevision: first.revision })) if (keys.push(change.key) === 20) break;
    client.close();
    t.deepEqual(keys, Array.from({ length: 20 }, (_, i) => `r/${i}`));
  }
});
