/**
 * The CLI run as a user runs it, from source, in a child process (never spawnSync next to an
 * in-process node: a blocked test process could not answer the CLI).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

/** Runs one command to its end (`env`: variables added to this process's). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    // 'close', not 'exit': the child's output may still be in its pipes when it exits.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a command that runs until Ctrl-C (`stop` sends SIGINT); killed at the test's end. */
export function followCli(t: ExecutionContext, args: string[]): { out: () => string; err: () => string; stop: () => void; closed: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import=tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { out: () => out, err: () => err, stop: () => child.kill('SIGINT'), closed };
}
