/**
 * `quorumkv dev`: a local cluster of `start` processes (client ports port.., peer ports
 * port+100..), each log line prefixed by its node. Ctrl-C stops them all (SIGTERM each, so
 * nothing acknowledged is lost). A node that exits on its own leaves the others running (a
 * cluster survives a minority); `dev` returns once every node has exited, and exits 1 if any
 * of them failed (for example, none could start because the ports are taken).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { withNodeFlags } from './node_flags';

export interface DevOptions {
  nodes: number;
  dataDir: string;
  port: number;
}

export async function dev(opts: DevOptions): Promise<void> {
  let stopping = false;
  let failed = false;
  const ids = Array.from({ length: opts.nodes }, (_, i) => i + 1);
  const cluster = ids.map((id) => `n${id}=127.0.0.1:${opts.port + 100 + id - 1}`).join(',');
  // Run `start` the way this process was run (compiled JS, or sources through tsx).
  const entry = process.argv[1];
  const children: ChildProcess[] = ids.map((id) => {
    const args = [
      ...withNodeFlags(process.execArgv),
      entry,
      'start',
      '--id',
      `n${id}`,
      '--data',
      join(resolve(opts.dataDir), `n${id}`),
      '--listen',
      `127.0.0.1:${opts.port + id - 1}`,
      '--peer-listen',
      `127.0.0.1:${opts.port + 100 + id - 1}`,
      '--cluster',
      cluster,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => process.stdout.write(`[n${id}] ${line}\n`));
    }
    // 'close', not 'exit': the node's last lines (its "stopped") come out before this one.
    child.on('close', (code, signal) => {
      process.stdout.write(`[n${id}] exited (${signal ?? code})\n`);
      // Stopped by us (Ctrl-C): exit 0 after SIGTERM. Anything else is the node's failure.
      if (code !== 0 && !(stopping && signal === 'SIGTERM')) failed = true;
    });
    return child;
  });
  console.log(`quorumkv dev: ${opts.nodes} nodes, client ports ${opts.port}..${opts.port + opts.nodes - 1}, data under ${resolve(opts.dataDir)}. Ctrl-C stops.`);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(children.map((c) => new Promise((r) => c.on('close', r))));
  if (failed) {
    console.error(`quorumkv dev: a node failed (see its lines above)${stopping ? '' : '; every node has exited'}`);
    process.exitCode = 1;
  }
}
