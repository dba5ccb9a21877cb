/**
 * Adaptive throttling on a real cluster: an fsync stall injected under write and scan load
 * (QKV_TEST_WAL_FAULTS=stall; POST /v1/test/wal-stall) makes the leader shed the lowest class
 * (bulk: scans) first with 429 `throttled` + Retry-After, while health and metrics still answer,
 * and every acknowledged write reads back afterwards.
 */
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

process.env.QKV_TEST_WAL_FAULTS = 'stall';

interface Answer {
  status: number;
  body: { error?: { code: string } } & Record<string, unknown>;
  retryAfter: string | null;
}

async function call(p: Proc, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(p.url(path), { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : {}, retryAfter: res.headers.get('retry-after') };
}

// Quick reactions for a short test: one window confirms an anomaly, no queue wait, a tiny floor
// and a lower ceiling (fewer halvings from the top to the floor).
const FLAGS = ['--monitor-confirm', '1', '--monitor-half-life-s', '2', '--throttle-queue-wait-ms', '0', '--throttle-limit-min', '1', '--throttle-limit-max', '256'];

test('an fsync stall sheds scans before writes; control routes answer; acknowledged writes survive', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3, FLAGS);
  const leader = await cluster.leader();
  const acked: string[] = [];
  const sheds: { path: string; at: number }[] = [];
  let running = true;
  let n = 0;
  const writer = async () => {
    while (running) {
      const key = `w${n++}`;
      const r = await call(leader, 'PUT', `/v1/kv/${key}`, { value: key });
      if (r.status === 200) acked.push(key);
      else if (r.status === 429) {
        t.is(r.body.error?.code, 'throttled');
        sheds.push({ path: 'write', at: Date.now() });
      }
    }
  };
  const scanner = async () => {
    while (running) {
      // Stale scans: bulk work the disk does not slow down, so only the stall's effect on the
      // writes can be why they are shed.
      const r = await call(leader, 'GET', '/v1/kv?limit=50&consistency=stale');
      if (r.status === 429) {
        t.is(r.body.error?.code, 'throttled');
        t.is(r.retryAfter, '1');
        sheds.push({ path: 'scan', at: Date.now() });
      } else t.is(r.status, 200);
    }
  };
  const load = [...Array.from({ length: 16 }, writer), ...Array.from({ length: 8 }, scanner)];
  // The baselines are learned first (warm-up windows with data), then the disk stalls.
  await pollUntil(async () => {
    const m = (await call(leader, 'GET', '/v1/monitor')).body as { signals: Record<string, { state: string }> };
    return ['latency_write', 'latency_bulk', 'wal_sync'].every((s) => m.signals[s].state === 'normal');
  }, 'the monitor to finish its warm-up', 30_000, 100);
  for (const p of cluster.procs) t.is((await call(p, 'POST', '/v1/test/wal-stall', { delayMs: 100, durationMs: 6000 })).status, 200);
  await pollUntil(() => sheds.length > 0, 'a 429 throttled during the stall', 20_000, 50);
  // Control routes are never throttled, stall or not.
  t.is((await call(leader, 'GET', '/health')).status, 200);
  t.is((await fetch(leader.url('/metrics'))).status, 200);
  const monitor = (await call(leader, 'GET', '/v1/monitor')).body as { throttle: { classes: Record<string, { limit: number; shedTotal: number }> }; events: unknown[] };
  running = false;
  await Promise.all(load);
  t.is(sheds[0].path, 'scan', `the first request shed was a ${sheds[0].path}`);
  t.true(monitor.throttle.classes.bulk.limit <= monitor.throttle.classes.write.limit, JSON.stringify(monitor.throttle.classes));
  t.true(monitor.events.length > 0, 'the anomaly was recorded');
  // Every acknowledged write is there, read through a follower after the stall.
  const follower = cluster.procs.find((p) => p !== leader)!;
  for (let i = 0; i < acked.length; i += 500) {
    const keys = acked.slice(i, i + 500);
    const got = await call(follower, 'POST', '/v1/kv/get', { keys });
    t.is(got.status, 200);
    t.is((got.body.items as unknown[]).length, keys.length);
  }
  t.log(`${acked.length} writes acknowledged; ${sheds.length} requests shed (${sheds.filter((s) => s.path === 'scan').length} scans)`);
});

test('bad monitor and throttle flags stop start with the flag named', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const main = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');
  const base = ['--import=tsx', main, 'start', '--id', 'n1', '--data', tempDir(t), '--listen', '127.0.0.1:1', '--peer-listen', '127.0.0.1:2', '--cluster', 'n1=127.0.0.1:2'];
  const cases: [string[], RegExp][] = [
    [['--throttle', 'maybe'], /--throttle.*expected on or off/],
    [['--monitor-k', '-1'], /--monitor-k/],
    [['--monitor-window-ms', '5'], /--monitor-window-ms/],
    [['--monitor-half-life-s', '0.01'], /--monitor-half-life-s 0.01 is shorter than one window/],
    [['--throttle-limit-min', '64', '--throttle-limit-max', '8'], /--throttle-limit-min 64 is above --throttle-limit-max 8/],
    [['--throttle-tolerance', '0.5'], /--throttle-tolerance must be at least 1/],
  ];
  for (const [args, message] of cases) {
    const r = spawnSync(process.execPath, [...base, ...args], { encoding: 'utf8' });
    t.is(r.status, 1, args.join(' '));
    t.regex(r.stderr, message);
  }
});
