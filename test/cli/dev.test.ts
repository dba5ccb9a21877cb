/**
 * `quorumkv dev` reports its nodes' failure in its exit status: a script (or `npm start`) that
 * runs it must not see success when no node could start, nor failure after a clean Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { freeDevBase } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

/** `quorumkv dev` with one node at `port` (its peer port is port + 100); output and exit code. */
function dev(t: import('ava').ExecutionContext, port: number): { child: ChildProcess; out: () => string; closed: Promise<number | null> } {
  // Its own process group, as a terminal gives it: Ctrl-C signals the group (dev and its nodes).
  const child = spawn(process.execPath, ['--import=tsx', MAIN, 'dev', '--nodes', '1', '--port', String(port), '--data', tempDir(t)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // (already gone)
    }
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // 'close', not 'exit': the child's output may still be in its pipes when it exits.
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, out: () => out, closed };
}

test('dev exits 1 when its node cannot start (its client port is taken)', async (t) => {
  const port = await freeDevBase(1);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const run = dev(t, port);
  t.is(await run.closed, 1, run.out());
  t.regex(run.out(), /EADDRINUSE/);
  t.regex(run.out(), /\[n1\] exited \(2\)/);
  t.regex(run.out(), /a node failed/);
});

test('dev exits 0 after Ctrl-C (SIGINT to its process group) stops its nodes cleanly', async (t) => {
  const port = await freeDevBase(1);
  const run = dev(t, port);
  await pollUntil(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200, 'the node up');
  process.kill(-run.child.pid!, 'SIGINT');
  t.is(await run.closed, 0, run.out());
  t.regex(run.out(), /\[n1\] exited \(0\)/);
  t.notRegex(run.out(), /a node failed/);
});
