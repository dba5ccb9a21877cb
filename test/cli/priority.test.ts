/**
 * `--nice`: every thread of the process gets the priority, and threads made afterwards (here a
 * worker thread) inherit it. Run in a child process, so the test runner's own
 * threads keep theirs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';

const CHILD = `
const { readFileSync, readdirSync } = require('node:fs');
const { Worker } = require('node:worker_threads');
const { lowerPriority } = require(${JSON.stringify(join(__dirname, '..', '..', 'ts', 'cli', 'priority.ts'))});
const nices = () => readdirSync('/proc/self/task').map((tid) => Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]));
const before = nices();
// Lower than where the threads are (the test may itself run niced).
const target = Math.min(19, Math.max(...before) + 3);
const set = lowerPriority(target);
// A worker thread made after the call (as libuv's pool and the addon's threads are made after
// start lowers the priority).
const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
worker.on('online', () => {
  console.log(JSON.stringify({ before, target, set, after: nices() }));
  process.exit(0);
});
`;

test('lowerPriority sets every thread, and threads started later inherit it', (t) => {
  if (process.platform !== 'linux') return t.pass('per-thread nice values are read from /proc (Linux)');
  const child = spawnSync(process.execPath, ['--import=tsx', '-e', CHILD], { encoding: 'utf8' });
  t.is(child.status, 0, child.stderr);
  const { before, target, set, after } = JSON.parse(child.stdout) as { before: number[]; target: number; set: number; after: number[] };
  t.true(before.some((n) => n !== target), `the threads started elsewhere: ${before.join(',')}`);
  t.is(set, before.length);
  t.true(after.length > before.length, `a thread was made: ${before.length} -> ${after.length} threads`);
  t.deepEqual(after, after.map(() => target));
});
