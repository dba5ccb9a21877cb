/**
 * `quorumkv lock <key> [--ttl 10s] [-- command args...]`, as etcdctl's `lock`: takes the lock on
 * `key` (waiting while another holds it) and runs the command while holding it — a job that
 * must run on one host at a time — with `QUORUMKV_LOCK_KEY` and `QUORUMKV_FENCING_TOKEN` in its
 * environment; then releases it. Without a command it prints the key and fencing token as a
 * JSON line and holds the lock until Ctrl-C or SIGTERM.
 *
 * Exit status: the command's (128 + its signal's number if a signal ended it); 1 if the lock
 * was lost meanwhile (the command is sent SIGTERM) or could not be taken; 127 if the command
 * could not be started; 0 when a lock held without a command is released on a signal.
 */
import { spawn } from 'node:child_process';
import { constants, hostname } from 'node:os';
import type { Lock } from '../client/lock';
import { cliClient } from './follow';

export interface LockCliOptions {
  endpoint: string[];
  ttl?: number;
}

const TTL_MS_DEFAULT = 10_000;

export async function lockCommand(key: string, command: string[], opts: LockCliOptions): Promise<number> {
  const client = cliClient(opts.endpoint);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const lock = await client.lock(key, { ttlMs: opts.ttl ?? TTL_MS_DEFAULT, value: { host: hostname(), pid: process.pid }, signal: stop.signal });
    const code = command.length === 0 ? await hold(lock, stop.signal) : await runHolding(lock, command, stop.signal);
    const lost = lock.lost.aborted;
    if (lost) process.stderr.write(`${(lock.lost.reason as Error).message}\n`);
    await lock.release();
    return lost ? 1 : code;
  } catch (err) {
    if (stop.signal.aborted) return 1;
    process.stderr.write(`could not take the lock on ${key}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
  }
}

/** Holds the lock until a signal (or its loss). */
async function hold(lock: Lock, stop: AbortSignal): Promise<number> {
  process.stdout.write(`${JSON.stringify({ key: lock.key, fencingToken: lock.fencingToken })}\n`);
  await new Promise<void>((resolve) => {
    stop.addEventListener('abort', () => resolve());
    lock.lost.addEventListener('abort', () => resolve());
  });
  return 0;
}

/** Runs `command` with the lock held; SIGTERM to it if the lock is lost or this process is signalled. */
async function runHolding(lock: Lock, command: string[], stop: AbortSignal): Promise<number> {
  const env = { ...process.env, QUORUMKV_LOCK_KEY: lock.key, QUORUMKV_FENCING_TOKEN: String(lock.fencingToken) };
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
  const terminate = () => child.kill('SIGTERM');
  lock.lost.addEventListener('abort', terminate);
  stop.addEventListener('abort', terminate);
  return new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`could not run ${command[0]}: ${err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
