/**
 * `npm run bench:scrape`: how long one `GET /metrics` blocks a node's event loop. A one-node
 * cluster runs in this process with metrics on; requests on 16 route templates give the HTTP
 * histograms their series; then the node's own render (prom-client's registry with the default
 * process metrics, plus the addon's text) runs 50 + 500 times while a setImmediate ticker records
 * the longest gap between two of its turns — the longest the loop was held. The first 50 renders
 * after start are reported on their own row: they compile the render's code and grow the young
 * heap, so a collection (1–5 ms) lands in a few of them; the 500 after are the steady state a
 * node scraped every few seconds lives in. A render's wall time is
 * reported too: it is longer, since the render yields a turn between metrics (time the loop is
 * free). The baseline, in the same run: the longest gap in windows of the same wall times with
 * no render (the node's own ticks and GC hold the loop too). JSON: bench/results/scrape.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeHealth } from '../ts/monitor/node_health';
import { RaftNode } from '../ts/node/raft_node';
import { StateType } from '../ts/raft/types';
import { freePorts } from './lib/procs';
import { percentile, printTable, writeResults } from './lib/report';

/** Renders right after start (code not yet optimized, heap still growing), reported apart. */
const FIRST_RENDERS = 50;
const RENDERS = 500;

/** Runs `work` while a setImmediate chain measures the longest gap between its turns (ms). */
async function longestGapMs(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  // Start from a turn of the loop, so the first gap measured is the work's own.
  await new Promise((r) => setImmediate(r));
  await work();
  running = false;
  // The ticker's next turn closes the gap the work's last stretch held.
  await new Promise((r) => setImmediate(r));
  return worst;
}

/** `n` renders one after another: each one's longest hold of the loop and its wall time (ms). */
async function renders(metrics: { render(): Promise<string> }, n: number): Promise<{ gaps: number[]; walls: number[] }> {
  const walls: number[] = [];
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    gaps.push(await longestGapMs(async () => {
      const t0 = performance.now();
      await metrics.render();
      walls.push(performance.now() - t0);
    }));
  }
  return { gaps, walls };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-scrape-'));
  const [peer] = await freePorts(1);
  let leading: () => void = () => undefined;
  const led = new Promise<void>((r) => (leading = r));
  const node = await RaftNode.open({ id: 1, dataDir: join(dir, 'n1'), members: new Map([[1, { host: '127.0.0.1', port: peer }]]), onSoftState: (_l, s) => s === StateType.Leader && leading() });
  await node.start();
  await led;
  const health = new NodeHealth(node);
  health.start();
  try {
    const metrics = health.metrics!;
    for (let r = 0; r < 16; r++) for (const status of [200, 404, 429]) metrics.request(`/route/${r}/{x}`, status, 0.002 * (r + 1));
    const first = await renders(metrics, FIRST_RENDERS);
    const steady = await renders(metrics, RENDERS);
    // The baseline, same run: the longest gap in windows as long as the renders took, with no
    // render — what the running node (its ticks, monitor windows, GC) holds the loop for anyway.
    const idleGaps: number[] = [];
    for (const wallMs of steady.walls) idleGaps.push(await longestGapMs(() => new Promise((r) => setTimeout(r, wallMs))));
    const text = await metrics.render();
    const held = (name: string, xs: number[]) => ({ '': name, 'held p50 ms': percentile(xs, 50), 'held p99 ms': percentile(xs, 99), 'held max ms': Math.max(...xs) });
    const shape = { series: text.split('\n').filter((l) => l && !l.startsWith('#')).length, bytes: text.length };
    const row = (name: string, r: { gaps: number[]; walls: number[] }) => ({ ...shape, ...held(name, r.gaps), 'wall p50 ms': percentile(r.walls, 50), 'wall p99 ms': percentile(r.walls, 99), target: '≤ 2 ms held' });
    const steadyRow = row(`render (${RENDERS}, steady)`, steady);
    const firstRow = row(`first ${FIRST_RENDERS} after start`, first);
    const baseline = held('no render (same windows)', idleGaps);
    printTable('One scrape of a node: the longest the event loop was held, and wall time; the baseline holds no render', [steadyRow, firstRow, baseline]);
    writeResults('scrape', { renders: RENDERS, ...steadyRow, firstRenders: firstRow, baseline });
  } finally {
    health.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
