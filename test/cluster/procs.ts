/**
 * Real `quorumkv start` processes on 127.0.0.1 with free ports. Each node's JSON log lines are
 * events the tests wait on (ready, role changes, stopped) — no sleeps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ExecutionContext } from 'ava';
import { restartablePorts } from '../helpers/ports';
import { NODE_V8_FLAGS } from '../../ts/cli/node_flags';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

/** Every node process still running, so a suite can make sure none outlives it. */
export const liveChildren = new Set<ChildProcess>();

export interface LogEvent {
  event: string;
  [k: string]: unknown;
}

export class Proc {
  child!: ChildProcess;
  events: LogEvent[] = [];
  private waiters: (() => void)[] = [];
  /** Resolves once the node exited and its output is all read (its pipes closed). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  private closed = false;
  /** Sees every stdout/stderr line (e.g. to keep node logs in a file). */
  onLine: ((line: string) => void) | undefined;

  constructor(
    readonly id: number,
    readonly port: number,
    readonly args: string[],
  ) {}

  /** Starts the node; `env` adds variables (e.g. test-only faults) for this start only. */
  spawn(env: Record<string, string> = {}): void {
    this.events = [];
    const child = spawn(process.execPath, [...NODE_V8_FLAGS, '--import=tsx', MAIN, 'start', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child = child;
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.onLine?.(line);
      try {
        this.events.push(JSON.parse(line) as LogEvent);
      } catch {
        this.events.push({ event: 'text', line });
      }
      this.notify();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.onLine?.(line);
      this.events.push({ event: 'stderr', line });
      this.notify();
    });
    this.closed = false;
    // 'close', not 'exit': at 'exit' the last log lines (a fatal error, say) may still be in the
    // pipes, and a test waiting for them would see the node gone without them.
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => {
      this.closed = true;
      this.notify();
      resolve({ code, signal });
    }));
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first event (from now on or already seen) matching `pred`. */
  async until(pred: (e: LogEvent) => boolean, deadlineMs = 90_000): Promise<LogEvent> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.closed) {
        throw new Error(`node ${this.id} exited while waiting: ${JSON.stringify(this.events.slice(-5))}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`node ${this.id}: no matching log line within ${deadlineMs} ms; last: ${JSON.stringify(this.events.slice(-3))}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** The leader this node currently believes in (0: none). */
  leader(): number {
    const roles = this.events.filter((e) => e.event === 'role');
    return roles.length > 0 ? Number(roles[roles.length - 1].leader) : 0;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }
}

export class ProcCluster {
  readonly procs: Proc[] = [];

  /** `extraArgs`: for every node, or per node (by id). */
  static async start(t: ExecutionContext, dir: string, n = 3, extraArgs: string[] | ((id: number) => string[]) = []): Promise<ProcCluster> {
    const ports = await restartablePorts(2 * n);
    const cluster = new ProcCluster();
    const members = Array.from({ length: n }, (_, i) => `n${i + 1}=127.0.0.1:${ports[n + i]}`).join(',');
    for (let i = 0; i < n; i++) {
      const id = i + 1;
      cluster.procs.push(
        new Proc(id, ports[i], ['--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${ports[i]}`, '--peer-listen', `127.0.0.1:${ports[n + i]}`, '--cluster', members, ...(typeof extraArgs === 'function' ? extraArgs(id) : extraArgs)]),
      );
    }
    t.teardown(() => cluster.killAll());
    for (const p of cluster.procs) p.spawn();
    await Promise.all(cluster.procs.map((p) => p.until((e) => e.event === 'ready')));
    return cluster;
  }

  /**
   * Starts a new, empty node `n<id>` that joins through `endpoint` (`--join`), with its own data
   * directory under `dir`; resolves once it is serving.
   */
  async join(dir: string, id: number, endpoint: Proc, extraArgs: string[] = []): Promise<Proc> {
    const [client, peer] = await restartablePorts(2);
    const p = new Proc(id, client, ['--id', `n${id}`, '--data', join(dir, `n${id}`), '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`, '--join', endpoint.url(''), ...extraArgs]);
    this.procs[id - 1] = p;
    p.spawn();
    await p.until((e) => e.event === 'ready');
    return p;
  }

  alive(): Proc[] {
    return this.procs.filter((p) => p !== undefined && p.child.exitCode === null && p.child.signalCode === null);
  }

  /**
   * Waits until every live node names the same leader, which is itself live and leading.
   * Looks again on every new log line, and at least every 100 ms; fails after `deadlineMs`.
   */
  async leader(deadlineMs = 30_000): Promise<Proc> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const alive = this.alive();
      const lead = alive[0]?.leader();
      if (lead && alive.every((p) => p.leader() === lead) && alive.some((p) => p.id === lead)) return this.procs[lead - 1];
      if (Date.now() > deadline) throw new Error(`no leader all live nodes agree on within ${deadlineMs} ms: ${alive.map((p) => `n${p.id}→${p.leader()}`).join(', ')}`);
      const counts = alive.map((p) => p.events.length);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        ...alive.map((p, i) => p.until(() => p.events.length > counts[i]).catch(() => undefined)),
        new Promise((resolve) => (timer = setTimeout(resolve, 100))),
      ]);
      clearTimeout(timer);
    }
  }

  killAll(): void {
    for (const p of this.alive()) p.child.kill('SIGKILL');
  }
}
