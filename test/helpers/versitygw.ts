/**
 * A real S3-compatible server for tests: versitygw (built by scripts/setup-debian.sh into
 * ~/.cache/quorumkv/tools/bin, or QKV_VERSITYGW), on a free port over a temporary directory,
 * with one bucket; stopped at teardown.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { ExecutionContext } from 'ava';
import { pollUntil } from './poll';
import { restartablePorts } from './ports';
import { tempDir } from './tmp';

export const S3_ACCESS_KEY = 'qkvtest';
export const S3_SECRET_KEY = 'qkvtestsecret';

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** The environment a client (or a node) needs to reach it. */
  env: Record<string, string>;
  /** `s3://bucket/prefix?endpoint=...&forcePathStyle=true`. */
  target(prefix: string): string;
}

/**
 * Starts versitygw over `dir` on a free port (or `again.port`, restarting a stopped one over the
 * same `dir`, whose bucket exists) with one bucket, `bucket` (no test framework: the benchmarks
 * use it too). The caller stops `proc`.
 */
export async function spawnVersitygw(dir: string, bucket: string, again?: { port: number }): Promise<{ proc: ChildProcess; endpoint: string; env: Record<string, string> }> {
  const bin = process.env.QKV_VERSITYGW ?? join(homedir(), '.cache', 'quorumkv', 'tools', 'bin', 'versitygw');
  if (!existsSync(bin)) throw new Error(`versitygw is not installed at ${bin}: run bash scripts/setup-debian.sh`);
  mkdirSync(dir, { recursive: true });
  const port = again?.port ?? (await restartablePorts(1))[0];
  const proc: ChildProcess = spawn(bin, ['--port', `127.0.0.1:${port}`, 'posix', dir], {
    env: { ...process.env, ROOT_ACCESS_KEY: S3_ACCESS_KEY, ROOT_SECRET_KEY: S3_SECRET_KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    // Up once it answers at all (an anonymous request is refused with 403).
    await pollUntil(async () => (await fetch(endpoint).then((r) => r.status, () => 0)) > 0, `versitygw on ${endpoint} (${stderr.slice(-200)})`, 10_000, 20);
    if (!again) {
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY } });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
    }
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { proc, endpoint, env: { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_REGION: 'us-east-1' } };
}

export const s3Target = (bucket: string, prefix: string, endpoint: string) => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true`;

export async function startVersitygw(t: ExecutionContext): Promise<S3Server> {
  const bucket = 'backups';
  const { proc, endpoint, env } = await spawnVersitygw(join(tempDir(t), 's3'), bucket);
  t.teardown(() => void proc.kill('SIGKILL'));
  return { endpoint, bucket, env, target: (prefix) => s3Target(bucket, prefix, endpoint) };
}
