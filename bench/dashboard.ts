/**
 * `npm run bench:dashboard`: what the dashboard costs a node. A 3-node cluster (idle but for
 * its heartbeats, the monitor and the sampler) runs; the leader's CPU time (utime + stime from
 * /proc) is measured over windows of `WINDOW_S` with no page open and with three real browser
 * pages open on it (Debian's chromium through playwright-core), in ABBA order, `ROUNDS` pairs.
 * The same windows on a cluster started with `--dashboard off` give the sampler's own cost.
 * Reported: CPU % of one core, medians; the page cost is the paired difference (target ≤ 1%).
 * JSON: bench/results/dashboard.json.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findLeader, spawnText, startLocalCluster, stopAll } from './lib/procs';
import { median, printTable, writeResults } from './lib/report';

const CHROMIUM = process.env.QKV_CHROMIUM ?? '/usr/bin/chromium';
const WINDOW_S = Number(process.env.QKV_BENCH_SECONDS ?? 20);
const ROUNDS = Number(process.env.QKV_BENCH_ROUNDS ?? 4);
const PAGES = 3;
const CLK_TCK = Number(spawnText('getconf', ['CLK_TCK']).trim());

interface Cluster {
  procs: ChildProcess[];
  urls: string[];
  leader: string;
  leaderPid: number;
}

async function startCluster(dir: string, extra: string[]): Promise<Cluster> {
  const { procs, urls } = await startLocalCluster(dir, extra);
  const leader = await findLeader(urls);
  return { procs, urls, leader, leaderPid: procs[urls.indexOf(leader)].pid! };
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces, so split after its closing paren).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The process's CPU use over the next `seconds`, as % of one core. */
async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (100 * (cpuSeconds(pid) - c0)) / ((performance.now() - t0) / 1000);
}

async function openPages(browser: Browser, url: string): Promise<Page[]> {
  const pages = await Promise.all(Array.from({ length: PAGES }, () => browser.newPage({ viewport: { width: 1400, height: 1000 } })));
  await Promise.all(pages.map(async (p) => {
    await p.goto(`${url}/dashboard`);
    // (Evaluated in the page; this file has no DOM types.)
    await p.waitForFunction(() => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples) >= 2, undefined, { timeout: 15_000 });
  }));
  return pages;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-dashboard-'));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
  const rows: Record<string, number>[] = [];
  let off: number[] = [];
  try {
    const on = await startCluster(join(dir, 'on'), []);
    try {
      for (let r = 0; r < ROUNDS; r++) {
        // ABBA: none, pages, pages, none — drift in the machine's load cancels out of the pairs.
        const order = r % 2 === 0 ? ['none', 'pages'] : ['pages', 'none'];
        const row: Record<string, number> = { round: r + 1 };
        for (const phase of order) {
          const pages = phase === 'pages' ? await openPages(browser, on.leader) : [];
          row[phase] = await cpuPercent(on.leaderPid, WINDOW_S);
          await Promise.all(pages.map((p) => p.close()));
        }
        row.cost = row.pages - row.none;
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    } finally {
      await stopAll(on.procs);
    }
    const offCluster = await startCluster(join(dir, 'off'), ['--dashboard', 'off']);
    try {
      for (let r = 0; r < ROUNDS; r++) off.push(await cpuPercent(offCluster.leaderPid, WINDOW_S));
    } finally {
      await stopAll(offCluster.procs);
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (k: string) => median(rows.map((r) => r[k]));
  const summary = {
    'dashboard off %': median(off),
    'on, no page %': med('none'),
    [`on, ${PAGES} pages %`]: med('pages'),
    [`${PAGES} pages cost (pp)`]: med('cost'),
    target: '≤ 1 pp',
  };
  printTable(`The leader's CPU (% of one core), idle cluster, ${WINDOW_S} s windows, ${ROUNDS} ABBA pairs (medians)`, [summary]);
  writeResults('dashboard', { windowS: WINDOW_S, rounds: rows, offRounds: off, summary });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
