/**
 * `npm run bench:snapshot`: snapshots at scale on a real 3-node cluster (compiled: `npm install`
 * first). Loads 1M keys of 100-byte values (10K transactions of 100 puts), then measures:
 * - snapshot creation on the leader (RocksDB checkpoint + log compaction), from its log;
 * - a follower that was down during the whole load: the log was compacted past it, so the
 *   leader streams the snapshot (transfer time, bytes), the follower installs it (install
 *   time), then serves a linearizable read;
 * - that follower killed (-9) and restarted with 1M keys (snapshot + short log tail): time to
 *   `ready` and to its first linearizable read.
 * (A node that lost its data cannot rejoin under its old id — Raft forbids it, as etcd does; it
 * must be removed and added as a new member.)
 * Results to bench/results/snapshot.json and a printed table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { freePorts } from '../test/helpers/ports';
import { median, printTable, writeResults } from './lib/report';
import { NODE_V8_FLAGS } from '../ts/cli/node_flags';

const KEYS = Number(process.env.QKV_BENCH_KEYS ?? 1_000_000);
const PER_TXN = 100;
// Several snapshots during the load, so the log is compacted well past an empty node.
const SNAPSHOT_ENTRIES = Number(process.env.QKV_BENCH_SNAPSHOT_ENTRIES ?? Math.max(100, Math.floor(KEYS / PER_TXN / 5)));
const MAIN = join(__dirname, '..', 'dist', 'ts', 'cli', 'main.js');

interface Event {
  event: string;
  [k: string]: unknown;
}

class Node {
  child!: ChildProcess;
  events: Event[] = [];
  private waiters: (() => void)[] = [];
  constructor(
    readonly id: number,
    readonly port: number,
    readonly args: string[],
  ) {}

  spawn(): void {
    this.events = [];
    this.child = spawn(process.execPath, [...NODE_V8_FLAGS, MAIN, 'start', ...this.args], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as Event);
      } catch {
        return;
      }
      if (this.events[this.events.length - 1].event === 'fatal') console.error(`n${this.id}: ${line}`);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async until(pred: (e: Event) => boolean): Promise<Event> {
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (this.child.exitCode !== null) throw new Error(`n${this.id} exited`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async kill(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  }

  /** Milliseconds until a linearizable read here succeeds (503 while it has no leader: retried). */
  async firstRead(key: string, from: number): Promise<number> {
    for (;;) {
      const r = await this.request('GET', `/v1/kv/${key}`).catch(() => ({ status: 0, json: null }));
      if (r.status === 200) return performance.now() - from;
      if (!this.alive) throw new Error(`n${this.id} exited (${this.child.exitCode ?? this.child.signalCode}) before serving a read`);
      if (r.status !== 503 && r.status !== 0) throw new Error(`read on n${this.id}: ${r.status} ${JSON.stringify(r.json)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-snapshot-'));
  const ports = await freePorts(6);
  const cluster = [1, 2, 3].map((i) => `n${i}=127.0.0.1:${ports[2 + i]}`).join(',');
  const nodes = [1, 2, 3].map(
    (i) => new Node(i, ports[i - 1], ['--id', `n${i}`, '--data', join(dir, `n${i}`), '--listen', `127.0.0.1:${ports[i - 1]}`, '--peer-listen', `127.0.0.1:${ports[2 + i]}`, '--cluster', cluster, '--snapshot-entries', String(SNAPSHOT_ENTRIES), '--snapshot-catchup', '500']),
  );
  try {
    for (const n of nodes) n.spawn();
    const role = await nodes[0].until((e) => e.event === 'role' && Number(e.leader) > 0);
    const leader = nodes[Number(role.leader) - 1];
    await leader.until((e) => e.event === 'role' && e.state === 'leader');
    const [follower] = nodes.filter((n) => n !== leader);
    await follower.kill();

    // Load: KEYS keys in transactions of PER_TXN puts, 32 at a time.
    // Incompressible values (100 base64 characters), so snapshot sizes are honest.
    const value = () => randomBytes(75).toString('base64');
    const txns = Math.ceil(KEYS / PER_TXN);
    let next = 0;
    const loadStart = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < txns) {
        const i = next++;
        const success = Array.from({ length: PER_TXN }, (_, j) => ({ op: 'put', key: `key${String(i * PER_TXN + j).padStart(8, '0')}`, value: value() }));
        const r = await leader.request('POST', '/v1/txn', { compare: [], success });
        if (r.status !== 200) throw new Error(`txn ${i}: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }));
    const loadS = (performance.now() - loadStart) / 1000;
    const created = leader.events.filter((e) => e.event === 'snapshot_created');
    const lastCreated = created[created.length - 1];
    const status = (await leader.request('GET', '/v1/cluster')).json;
    console.log(`loaded ${KEYS.toLocaleString()} keys in ${loadS.toFixed(1)} s; leader took ${created.length} snapshots, log from ${status.firstLogIndex} to ${status.commitIndex}`);

    // 1. The follower that missed everything comes back: InstallSnapshot of the whole state.
    let t0 = performance.now();
    follower.spawn();
    const installed = await follower.until((e) => e.event === 'snapshot_installed');
    const installReadMs = await follower.firstRead(`key${String(KEYS - 1).padStart(8, '0')}`, t0);
    const sent = leader.events.filter((e) => e.event === 'snapshot_sent' && Number(e.to) === follower.id).pop();

    // 2. kill -9 it and restart: its own snapshot plus the log tail.
    await follower.kill();
    t0 = performance.now();
    follower.spawn();
    await follower.until((e) => e.event === 'ready');
    const restartReadyMs = performance.now() - t0;
    const restartReadMs = await follower.firstRead('key00000000', t0);

    const rows = [
      { measure: 'load (txn of 100 puts, 32 in flight)', value: Math.round(KEYS / loadS), unit: 'keys/s' },
      { measure: 'snapshot creation (leader, median)', value: median(created.map((e) => Number(e.ms))), unit: 'ms' },
      { measure: 'snapshot creation (leader, last)', value: Number(lastCreated?.ms), unit: 'ms' },
      { measure: 'snapshot transfer to the lagging follower', value: Number(sent?.ms), unit: 'ms' },
      { measure: 'snapshot size', value: Math.round(Number(sent?.bytes) / 2 ** 20), unit: 'MiB' },
      { measure: 'snapshot install on the follower', value: Number(installed.ms), unit: 'ms' },
      { measure: 'lagging follower: spawn to first linearizable read', value: Math.round(installReadMs), unit: 'ms' },
      { measure: 'restart after kill -9: ready', value: Math.round(restartReadyMs), unit: 'ms' },
      { measure: 'restart after kill -9: first linearizable read', value: Math.round(restartReadMs), unit: 'ms' },
    ];
    printTable(`snapshots with ${KEYS.toLocaleString()} keys of 100 bytes (--snapshot-entries ${SNAPSHOT_ENTRIES})`, rows);
    writeResults('snapshot', { keys: KEYS, valueBytes: 100, snapshotEntries: SNAPSHOT_ENTRIES, snapshots: created.length, rows });
  } finally {
    for (const n of nodes) if (n.child && n.child.exitCode === null) n.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
