/**
 * Replay with real processes: three voters and one replay learner (`--role replay`). The same
 * replay request gives the same bytes on every member; `quorumkv md replay` is served by the
 * learner, and a replay there runs to its end while ingest goes on at the leader.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import test from 'ava';
import { generate } from '../../ts/market/generator';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');
const LINES = [...generate({ instruments: 4, minutes: 2, seed: 21, eventsPerSecond: 200 })];
const BATCH = 1000;
/** The first half is ingested before the replays; the second while one runs. */
const HALF = Math.floor(LINES.length / 2 / BATCH) * BATCH;
const SYMBOLS = ['SYM001', 'SYM002', 'SYM003', 'SYM004'];

async function ingest(p: Proc, lines: string[]): Promise<void> {
  const res = await fetch(p.url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

async function replayHash(p: Proc, body: Record<string, unknown>): Promise<{ hash: string; lines: number }> {
  const res = await fetch(p.url('/v1/md/replay'), { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`replay answered ${res.status}: ${text}`);
  return { hash: createHash('sha256').update(text).digest('hex'), lines: text.split('\n').length - 1 };
}

async function applied(p: Proc): Promise<number> {
  return ((await (await fetch(p.url('/v1/cluster'))).json()) as { appliedIndex: number }).appliedIndex;
}

test('every member replays the same bytes; the replay learner serves the CLI while ingest goes on', async (t) => {
  t.timeout(240_000);
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, dir, 3);
  const leader = await cluster.leader();
  for (let i = 0; i < HALF; i += BATCH) await ingest(leader, LINES.slice(i, i + BATCH));
  const learner = await cluster.join(dir, 4, leader, ['--role', 'replay']);
  const members = cluster.alive();
  const target = await applied(leader);
  await pollUntil(async () => (await Promise.all(members.map(applied))).every((a) => a >= target), 'every member applied the first half', 60_000);

  // The venue-time range of the first half: complete before the second half starts.
  const to = JSON.parse(LINES[HALF - 1]).tsEvent as string;
  const request = { instruments: SYMBOLS, to, depth: 5 };
  const hashes = await Promise.all(members.map((p) => replayHash(p, request)));
  t.true(hashes[0].lines > 1000);
  t.deepEqual(new Set(hashes.map((h) => h.hash)).size, 1, 'the same bytes on every member (learner included)');

  // The second half goes in at the leader while the CLI replays the first half (and, once it
  // is in, its batches again — duplicates, still proposed and committed — until the CLI ends).
  let acked = 0;
  let cliDone = false;
  const rest = (async () => {
    for (let i = HALF, firstPass = true; !cliDone || firstPass; i += BATCH) {
      if (i >= LINES.length) [i, firstPass] = [HALF, false];
      await ingest(leader, LINES.slice(i, i + BATCH));
      acked++;
    }
  })();
  const ackedAtSpawn = acked;
  const cli = spawn(process.execPath, ['--import=tsx', MAIN, 'md', 'replay', '--endpoint', leader.url(''), '--instruments', SYMBOLS.join(','), '--to', to, '--depth', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  cli.stdout.on('data', (c: Buffer) => out.push(c));
  cli.stderr.on('data', (c: Buffer) => (err += c.toString()));
  // 'close', not 'exit': the CLI's last bytes may still be in its pipes when it exits.
  const code = await new Promise<number | null>((resolve) => cli.on('close', resolve));
  cliDone = true;
  const ackedDuringCli = acked - ackedAtSpawn;
  t.is(code, 0, err);
  t.regex(err, new RegExp(`replaying from ${learner.url('').replace(/[/.]/g, '\\$&')}`), 'the learner served it');
  t.is(createHash('sha256').update(Buffer.concat(out)).digest('hex'), hashes[0].hash, 'the same bytes as before the ingest resumed');
  t.true(ackedDuringCli > 0, 'ingest went on at the leader meanwhile');
  const done = JSON.parse(Buffer.concat(out).toString().trimEnd().split('\n').pop()!) as { kind: string; events: number };
  t.is(done.kind, 'done');
  t.regex(err.split('\r').pop()!, new RegExp(`  ${done.events.toLocaleString('en-US')} events  `), 'the last progress line counts the events (not books or the done line)');
  await rest;
  const feeds = (await (await fetch(leader.url('/v1/md/feeds'))).json()) as { producers: { producerSeq: string }[] };
  t.is(feeds.producers[0].producerSeq, JSON.parse(LINES[LINES.length - 1]).producerSeq, 'every event went in');
});

test('quorumkv md replay continues on another member when its learner dies: each event once, only whole lines', async (t) => {
  t.timeout(240_000);
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, dir, 3);
  const leader = await cluster.leader();
  for (let i = 0; i < LINES.length; i += BATCH) await ingest(leader, LINES.slice(i, i + BATCH));
  const learner = await cluster.join(dir, 4, leader, ['--role', 'replay']);
  const target = await applied(leader);
  await pollUntil(async () => (await Promise.all(cluster.alive().map(applied))).every((a) => a >= target), 'every member applied the day', 60_000);
  const reference = await (await fetch(leader.url('/v1/md/replay'), { method: 'POST', body: JSON.stringify({ instruments: SYMBOLS, depth: 5 }) })).text();
  const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);
  const events = (text: string) => lines(text).filter((l) => !l.startsWith('{"kind":"book"') && !l.startsWith('{"kind":"done"'));

  // Two minutes of venue time at 20x: about 6 s, and the learner is killed a third of the way.
  const cli = spawn(process.execPath, ['--import=tsx', MAIN, 'md', 'replay', '--endpoint', leader.url(''), '--instruments', SYMBOLS.join(','), '--depth', '5', '--speed', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  cli.stdout.on('data', (c: Buffer) => out.push(c));
  cli.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const closed = new Promise<number | null>((resolve) => cli.on('close', resolve));
  await pollUntil(async () => Buffer.concat(out).length > reference.length / 3, 'a third of the replay was written', 30_000);
  learner.child.kill('SIGKILL');
  t.is(await closed, 0, err);
  t.regex(err, new RegExp(`replaying from ${learner.url('').replace(/[/.]/g, '\\$&')}`), 'the learner served it first');
  // (A progress line, redrawn every 500 ms, may come between the two notices.)
  t.regex(err, /resuming after seq \d+\n(?:\r[^\n]*\n)?replaying from http:\/\/127\.0\.0\.1:\d+/, 'then another member, after the last event written');
  const got = Buffer.concat(out).toString();
  t.deepEqual(events(got), events(reference), 'every event once, in order');
  // The last line is the resumed session's done: the same seq reached (its counts are its own part's).
  const done = (text: string) => JSON.parse(lines(text).at(-1)!) as { kind: string; seq: string; events: number };
  t.like(done(got), { kind: 'done', seq: done(reference).seq });
  t.true(done(got).events < done(reference).events);
});
