/**
 * What the backup tests share: the CLI run as a user runs it (from source, with the test's
 * environment: the S3 credentials), and a JSON call to one node.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Proc } from '../cluster/procs';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

export function cli(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import=tsx', MAIN, ...args], { encoding: 'utf8', env: process.env });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call(p: Proc, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url(path), { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
