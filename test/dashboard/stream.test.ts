/**
 * The dashboard's data path on a real cluster, without a browser: the stream's events and
 * shapes, the history a new page gets, the per-member progress only the leader knows, the
 * stream limit, the static files (and nothing else), and `--dashboard off`.
 */
import test from 'ava';
import { DASHBOARD_STREAMS_MAX } from '../../ts/api/dashboard';
import type { Hello, Sample } from '../../ts/dashboard/page/wire';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';
import { SseReader } from './sse';

async function errorOf(url: string): Promise<[number, string]> {
  const res = await fetch(url);
  const body = (await res.json()) as { error: { code: string } };
  return [res.status, body.error.code];
}

test('the stream: hello with history, a sample a second, member progress from the leader', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  for (let i = 0; i < 20; i++) await fetch((await cluster.leader()).url(`/v1/kv/k${i}`), { method: 'PUT', body: '"v"' }).then((r) => r.text());
  // An election under load can move leadership between the lookup and the samples (seen in CI):
  // then the samples are a follower's, and the stream is opened again on the new leader.
  let leader: Proc;
  let first: Sample;
  let second: Sample;
  for (let attempt = 1; ; attempt++) {
    leader = await cluster.leader();
    const { status, type, sse } = await SseReader.open(leader.url('/v1/dashboard/stream'));
    t.teardown(() => sse.close());
    t.is(status, 200);
    t.is(type, 'text/event-stream');
    const hello = JSON.parse((await sse.nextOf('hello')).data) as Hello;
    t.is(hello.node, leader.id);
    t.is(hello.k, 3);
    t.is(hello.sampleEveryMs, 1000);
    t.deepEqual(JSON.parse((await sse.nextOf('instruments')).data), []);
    first = JSON.parse((await sse.nextOf('sample')).data) as Sample;
    second = JSON.parse((await sse.nextOf('sample')).data) as Sample;
    if (second.cluster.leader === leader.id || attempt === 3) break;
    t.log(`leadership moved to n${second.cluster.leader} while n${leader.id} was sampled; again`);
    sse.close();
  }
  t.true(second.t > first.t);
  t.is(second.cluster.node, leader.id);
  t.is(second.cluster.leader, leader.id);
  t.deepEqual(Object.keys(second.traffic), ['read', 'write', 'ingest', 'bulk']);
  t.deepEqual(Object.keys(second.health.signals).sort(), ['apply_lag', 'event_loop', 'latency_bulk', 'latency_ingest', 'latency_read', 'latency_write', 'read_index', 'wal_sync']);
  t.is(second.cluster.members.length, 3);
  for (const m of second.cluster.members) {
    t.true(typeof m.match === 'number' && m.match > 0, `the leader knows n${m.id}'s match index`);
    t.is(typeof m.lag, 'number');
    t.is(m.spaceAlarm, null, 'no disk alarm');
  }
  // A page opened later starts with the samples so far.
  const later = await SseReader.open(leader.url('/v1/dashboard/stream'));
  t.teardown(() => later.sse.close());
  const again = JSON.parse((await later.sse.nextOf('hello')).data) as Hello;
  t.true(again.history.length >= 2, `history of ${again.history.length}`);
  t.true(again.history.some((s) => s.t === second.t));
  // A follower knows no one's progress and says so with nulls.
  const follower = cluster.procs.find((p) => p.id !== leader.id)!;
  const f = await SseReader.open(follower.url('/v1/dashboard/stream'));
  t.teardown(() => f.sse.close());
  const fs = JSON.parse((await f.sse.nextOf('sample')).data) as Sample;
  t.is(fs.cluster.leader, leader.id);
  t.true(fs.cluster.members.every((m) => m.match === null && m.lag === null));
});

test('the page and its files are served; other paths and a bad depth are JSON errors; streams are bounded', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t), 1);
  const [p] = cluster.procs;
  const page = await fetch(p.url('/dashboard'));
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  t.regex(await page.text(), /<script type="module" src="\/dashboard\/main.js">/);
  for (const file of ['main.js', 'charts.js', 'views.js', 'uPlot.iife.min.js', 'uPlot.min.css', 'dashboard.css']) {
    const res = await fetch(p.url(`/dashboard/${file}`));
    t.is(res.status, 200, file);
    t.true((await res.arrayBuffer()).byteLength > 100, file);
  }
  t.deepEqual(await errorOf(p.url('/dashboard/nope.js')), [404, 'route_not_found']);
  t.deepEqual(await errorOf(p.url('/dashboard/..%2Fpackage.json')), [404, 'route_not_found']);
  t.deepEqual(await errorOf(p.url('/v1/dashboard/stream?depth=0')), [400, 'invalid_depth']);
  const open: SseReader[] = [];
  t.teardown(() => open.forEach((s) => s.close()));
  for (let i = 0; i < DASHBOARD_STREAMS_MAX; i++) {
    const { status, sse } = await SseReader.open(p.url('/v1/dashboard/stream'));
    t.is(status, 200);
    open.push(sse);
    await sse.nextOf('hello');
  }
  t.deepEqual(await errorOf(p.url('/v1/dashboard/stream')), [503, 'overloaded']);
  open.pop()!.close();
  // The server sees the closed stream go; a new one is then admitted.
  await pollUntil(async () => {
    const { status, sse } = await SseReader.open(p.url('/v1/dashboard/stream'));
    if (status !== 200) sse.close();
    else open.push(sse);
    return status === 200;
  }, 'a closed stream to be released', 10_000, 50);
  t.pass();
});

test('--dashboard off: no page, no stream', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t), 1, ['--dashboard', 'off']);
  const [p] = cluster.procs;
  t.deepEqual(await errorOf(p.url('/dashboard')), [404, 'route_not_found']);
  t.deepEqual(await errorOf(p.url('/v1/dashboard/stream')), [404, 'route_not_found']);
});
