/**
 * A real quorumkv cluster under the nemesis' control: `quorumkv start` processes on 127.0.0.1
 * whose peer links all run through `LinkProxy`s, node logs appended to files (across restarts),
 * and the operations faults need — kill -9, restart (optionally with test-only WAL faults),
 * SIGSTOP/SIGCONT, cutting and healing links.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { restartablePorts } from '../helpers/ports';
import { Proc } from '../cluster/procs';
import { LinkProxy } from './proxy';

export class ChaosNode {
  readonly proc: Proc;
  paused = false;
  private readonly log: WriteStream;

  readonly dataDir: string;

  constructor(
    readonly id: number,
    readonly clientPort: number,
    private readonly args: string[],
    logPath: string,
  ) {
    this.dataDir = args[args.indexOf('--data') + 1];
    this.proc = new Proc(id, clientPort, args);
    this.log = createWriteStream(logPath, { flags: 'a' });
    this.proc.onLine = (line) => {
      this.log.write(`${line}\n`);
      const m = /^\{"event":"snapshot_(\w+)"/.exec(line);
      if (m) this.snapshotEvents.set(m[1], (this.snapshotEvents.get(m[1]) ?? 0) + 1);
    };
  }

  get alive(): boolean {
    const c = this.proc.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Starts the node and waits for its `ready` line (throws if it exits first). */
  async start(env: Record<string, string> = {}): Promise<void> {
    this.log.write(`--- start ${new Date().toISOString()} ${JSON.stringify(env)}\n`);
    this.paused = false;
    this.proc.spawn(env);
    await this.proc.until((e) => e.event === 'ready');
  }

  /**
   * From the next start on, the node (its data wiped) joins through `clientPort`; its
   * `--cluster` map then only routes (through this suite's proxies).
   */
  joinThrough(clientPort: number): void {
    const at = this.args.indexOf('--join');
    if (at >= 0) this.args.splice(at, 2);
    this.args.push('--join', `http://127.0.0.1:${clientPort}`);
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = this.proc.exited;
    this.proc.child.kill('SIGKILL');
    await exited;
    this.paused = false;
  }

  pause(): void {
    if (this.alive && !this.paused) {
      this.proc.child.kill('SIGSTOP');
      this.paused = true;
    }
  }

  resume(): void {
    if (this.alive && this.paused) {
      this.proc.child.kill('SIGCONT');
      this.paused = false;
    }
  }

  /** Snapshot events seen across restarts (`created`, `installed`, `sent`, ...). */
  readonly snapshotEvents = new Map<string, number>();

  /** Whether this node's latest role line says it leads. */
  claimsLeadership(): boolean {
    const roles = this.proc.events.filter((e) => e.event === 'role');
    return roles.length > 0 && roles[roles.length - 1].state === 'leader';
  }

  closeLog(): Promise<void> {
    return new Promise((resolve) => this.log.end(resolve));
  }
}

export class ChaosCluster {
  readonly nodes: ChaosNode[] = [];
  /** proxies.get(`${from}>${to}`): the link `from` dials to reach `to`. */
  readonly proxies = new Map<string, LinkProxy>();

  private constructor(readonly dir: string) {}

  /**
   * `snapshotEntries` is small on purpose: the log compacts every few seconds under the
   * workload, so a node that was down or cut off for a while catches up by InstallSnapshot.
   */
  static async create(dir: string, size: number, snapshotEntries = 300, nodeArgs: string[] = []): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(dir);
    const ports = await restartablePorts(2 * size + size * (size - 1));
    const clientPorts = ports.slice(0, size);
    const peerPorts = ports.slice(size, 2 * size);
    let next = 2 * size;
    mkdirSync(join(dir, 'logs'), { recursive: true });
    for (let from = 1; from <= size; from++) {
      const members: string[] = [];
      for (let to = 1; to <= size; to++) {
        if (to === from) {
          members.push(`n${to}=127.0.0.1:${peerPorts[to - 1]}`);
          continue;
        }
        const proxy = new LinkProxy(from, to, ports[next++], peerPorts[to - 1]);
        cluster.proxies.set(`${from}>${to}`, proxy);
        members.push(`n${to}=127.0.0.1:${proxy.listenPort}`);
      }
      const args = ['--id', `n${from}`, '--data', join(dir, 'data', `n${from}`), '--listen', `127.0.0.1:${clientPorts[from - 1]}`, '--peer-listen', `127.0.0.1:${peerPorts[from - 1]}`, '--cluster', members.join(','), '--snapshot-entries', String(snapshotEntries), '--snapshot-catchup', String(Math.floor(snapshotEntries / 3)), ...nodeArgs];
      cluster.nodes.push(new ChaosNode(from, clientPorts[from - 1], args, join(dir, 'logs', `n${from}.log`)));
    }
    await Promise.all([...cluster.proxies.values()].map((p) => p.start()));
    return cluster;
  }

  node(id: number): ChaosNode {
    return this.nodes[id - 1];
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
  }

  /** The live, running node whose log last claimed leadership (undefined if none does). */
  claimedLeader(): ChaosNode | undefined {
    return this.nodes.find((n) => n.alive && !n.paused && n.claimsLeadership());
  }

  /** Cuts every link between a node in `a` and a node in `b`, both directions. */
  cutBetween(a: number[], b: number[]): void {
    for (const x of a) {
      for (const y of b) {
        this.proxies.get(`${x}>${y}`)?.setCut(true);
        this.proxies.get(`${y}>${x}`)?.setCut(true);
      }
    }
  }

  healLinks(): void {
    for (const p of this.proxies.values()) p.setCut(false);
  }

  /** Waits until every node is up, unpaused, and all agree on one live leader. */
  async converged(): Promise<number> {
    for (;;) {
      const lead = this.nodes[0].proc.leader();
      const agreed = lead > 0 && this.nodes.every((n) => n.alive && !n.paused && n.proc.leader() === lead) && this.node(lead).claimsLeadership();
      if (agreed) return lead;
      const counts = this.nodes.map((n) => n.proc.events.length);
      await Promise.race(this.nodes.map((n, i) => n.proc.until(() => n.proc.events.length > counts[i]).catch(() => new Promise(() => undefined))));
    }
  }

  async shutdown(): Promise<void> {
    for (const n of this.nodes) n.resume();
    await Promise.all(this.nodes.map((n) => n.kill()));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    await Promise.all(this.nodes.map((n) => n.closeLog()));
  }
}
