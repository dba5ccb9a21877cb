/** Processes for the cluster benchmark: free ports, launching until a ready line, tool checks. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NODE_V8_FLAGS } from '../../ts/cli/node_flags';

/** The compiled CLI (benchmarks run what users run: dist/, from `npm run build`). */
export const MAIN = join(__dirname, '..', '..', 'dist', 'ts', 'cli', 'main.js');

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Spawns a process and resolves when a line of its output matches `ready`. */
export function launch(cmd: string, args: string[], ready: RegExp, onLine?: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        onLine?.(line);
        if (!done && ready.test(line)) {
          done = true;
          resolve(child);
        }
      });
    }
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${cmd} exited with ${code} before it was ready`));
    });
  });
}

/** Runs a tool to completion; its stdout, or an error with its output. */
export function spawnText(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * Runs `script` (a TypeScript file in bench/lib) in a Node process of its own, so its timings
 * are not the benchmark's event loop's; resolves with the one JSON value it prints.
 */
export function runJsonScript<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    // 'close', not 'exit': the last of its output may still be in the pipe at 'exit'.
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`${script} exited with ${code}`))));
  });
}

export function hasTool(tool: string): boolean {
  return spawnSync('which', [tool]).status === 0;
}

/** Sends SIGTERM and resolves once every process has exited. */
export async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  })));
}

/** The client URL of the member that says it leads (polled every 50 ms, 10 s at most). */
export async function findLeader(urls: string[]): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    for (const url of urls) {
      const st = (await (await fetch(`${url}/v1/cluster`)).json()) as { state: string };
      if (st.state === 'leader') return url;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no leader');
}

/** `QKV_BENCH_NODE_ARGS`, split on spaces (none when unset). */
export function benchNodeArgs(): string[] {
  return (process.env.QKV_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

/**
 * A 3-node cluster of `quorumkv start` processes (dist/) on free ports under `dir`, each with
 * `extraArgs` and then `QKV_BENCH_NODE_ARGS` (space-separated, e.g. `--http1 node`: one bench
 * run per setting of a node flag); resolves once all three are ready, with their client URLs in
 * node order.
 */

export async function startLocalCluster(dir: string, extraArgs: string[] = []): Promise<{ procs: ChildProcess[]; urls: string[] }> {
  const ports = await freePorts(6);
  const members = [1, 2, 3].map((id) => `n${id}=127.0.0.1:${ports[2 + id]}`).join(',');
  const procs = await Promise.all([1, 2, 3].map((id) =>
    launch(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', '--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[id - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + id]}`, '--cluster', members, ...extraArgs, ...benchNodeArgs()], /"event":"ready"/),
  ));
  return { procs, urls: ports.slice(0, 3).map((p) => `http://127.0.0.1:${p}`) };
}

/** Runs `work` against the leader of a fresh local 3-node cluster in a temporary directory, then stops and removes both. */
export async function withLocalCluster<T>(name: string, work: (leader: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `qkv-bench-${name}-`));
  let procs: ChildProcess[] = [];
  try {
    const cluster = await startLocalCluster(dir);
    procs = cluster.procs;
    return await work(await findLeader(cluster.urls));
  } finally {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}
