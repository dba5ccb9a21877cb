import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Claims on ports below the ephemeral range, one file per port holding the claimant's pid. */
const CLAIMS_DIR = join(tmpdir(), 'qkv-test-ports');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `port` for this test process against every other one running now. A free port is not
 * enough: a node killed to be restarted leaves its port free while it is down, and a cluster
 * another test started then took it (EADDRINUSE on one side). Claims of processes that ended
 * are taken over; this process's own are never handed out twice.
 */
function claim(port: number): boolean {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  const file = join(CLAIMS_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder === process.pid || (Number.isInteger(holder) && holder > 0 && alive(holder))) return false;
      try {
        unlinkSync(file);
      } catch (gone) {
        if ((gone as NodeJS.ErrnoException).code !== 'ENOENT') throw gone;
      }
    }
  }
  return false;
}

/** Ports the OS reports free on 127.0.0.1 (bound then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A base port for `quorumkv dev --nodes n` (client ports base.., peer ports base+100..) whose
 * 2n ports are all free now. Drawn below the kernel's ephemeral range (32768..), where the ports
 * `freePorts` hands to other tests running at the same time never fall.
 */
export async function freeDevBase(n: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: n }, (_, i) => [base + i, base + 100 + i]).flat();
    if ((await Promise.all(ports.map(bindable))).every(Boolean) && ports.every(claim)) return base;
  }
  throw new Error(`no free range of ports for ${n} dev nodes`);
}

/**
 * Ports for nodes that are killed and started again at the same address. Drawn below the
 * kernel's ephemeral range (32768..), which is where `freePorts` in the other tests running at
 * the same time, and every outgoing connection, take theirs: a port from `freePorts` lies free
 * while its node is down, and a chaos run once failed when another test was handed it then
 * (EADDRINUSE on the restart). Each port is also claimed (`claim`) against the other test
 * processes' restartable ports.
 */
export async function restartablePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < n; attempt++) {
    if (attempt >= 100 * n) throw new Error(`no ${n} free ports below the ephemeral range`);
    const port = 10_000 + Math.floor(Math.random() * 20_000);
    if (!ports.has(port) && (await bindable(port)) && claim(port)) ports.add(port);
  }
  return [...ports];
}
