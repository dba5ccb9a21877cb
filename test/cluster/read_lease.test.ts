/**
 * `--read-lease on` with real processes: linearizable reads answered from the leader's lease
 * (no heartbeat round each) still see every acknowledged write — on the leader, through the
 * followers, after a kill -9 of the leader, and once the killed node restarts (a restarted
 * voter fences its votes, so no lease it acknowledged before the crash is undercut).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

async function call(p: Proc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url(path), { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('with --read-lease on, a read after an acknowledged write sees it on every member, across a kill -9 of the leader', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3, ['--read-lease', 'on']);
  let acked = 0;
  /** One writer: each value is acknowledged, then read back (linearizable) from every live member. */
  const writeAndRead = async (rounds: number): Promise<void> => {
    const leader = await cluster.leader();
    for (let i = 0; i < rounds; i++) {
      const w = await call(leader, 'PUT', '/v1/kv/counter', { value: acked + 1 });
      t.is(w.status, 200, JSON.stringify(w.json));
      acked++;
      const reads = await Promise.all(cluster.alive().map((p) => call(p, 'GET', '/v1/kv/counter')));
      for (const r of reads) t.is(r.json.value, acked, 'a linearizable read returned an older value');
    }
  };
  await writeAndRead(50);
  const first = await cluster.leader();
  first.child.kill('SIGKILL');
  await first.exited;
  await writeAndRead(50);
  first.spawn();
  await first.until((e) => e.event === 'ready');
  await writeAndRead(50);
  t.is(acked, 150);
});

test('--read-lease takes on or off only, refused at start with the flag named', async (t) => {
  const main = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');
  const args = ['--import=tsx', main, 'start', '--id', 'n1', '--data', tempDir(t), '--listen', '127.0.0.1:1', '--peer-listen', '127.0.0.1:2', '--cluster', 'n1=127.0.0.1:2', '--read-lease', 'maybe'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  t.is(r.status, 1);
  t.regex(r.stderr, /--read-lease.*expected on or off/);
});
