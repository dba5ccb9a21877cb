/**
 * Makes the README's dashboard picture (`npx tsx scripts/dashboard-screenshot.ts [out.png]`,
 * default docs/dashboard.png): a 3-node cluster from dist/, two minutes of synthetic market
 * data (quorumkv md generate's generator, 5 instruments) ingested in batches every 100 ms,
 * KV writes and linearizable reads at a steady rate with a burst 60 s in, and a 4 s disk stall
 * (the test-only `POST /v1/test/wal-stall`, 15 ms per fsync) 90 s in, once the baselines have
 * settled, so the monitor has an anomaly to shade; the leader's page in Debian's chromium is
 * shot while the load still runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { findLeader, startLocalCluster, stopAll } from '../bench/lib/procs';
import { generate } from '../ts/market/generator';

const OUT = process.argv[2] ?? join(__dirname, '..', 'docs', 'dashboard.png');
const RUN_MS = 120_000;
const BURST = { fromMs: 60_000, toMs: 66_000 };
const STALL = { atMs: 90_000, delayMs: 15, durationMs: 4000 };
/** The page is opened this long before the end, so its last samples show the load. */
const PAGE_OPEN_BEFORE_END_MS = 10_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `perTick` KV requests every 10 ms (×4 during the burst) until `endMs`. */
async function kvLoad(leader: string, startMs: number, endMs: number, perTick: number): Promise<void> {
  let n = 0;
  while (Date.now() < endMs) {
    const at = Date.now() - startMs;
    const count = at >= BURST.fromMs && at < BURST.toMs ? perTick * 4 : perTick;
    const batch = Array.from({ length: count }, () => {
      const key = `k${n++ % 1000}`;
      return n % 3 === 0
        ? fetch(`${leader}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ value: n }) }).then((r) => r.text())
        : fetch(`${leader}/v1/kv/${key}`).then((r) => r.text());
    });
    await Promise.all([Promise.all(batch), pause(10)]);
  }
}

/** Generated market data, 500 events per POST every 100 ms, until `endMs`. */
async function ingest(leader: string, endMs: number): Promise<void> {
  const lines = generate({ instruments: 5, minutes: 10, seed: 7, eventsPerSecond: 5000 });
  while (Date.now() < endMs) {
    const batch: string[] = [];
    // (next(), not for-of: breaking out of a for-of would close the generator.)
    for (let it = lines.next(); !it.done; it = lines.next()) {
      batch.push(it.value);
      // A batch may not end inside a venue event.
      if (batch.length >= 500 && !it.value.includes('"last":false')) break;
    }
    if (batch.length === 0) return;
    await Promise.all([fetch(`${leader}/v1/md/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: batch.join('\n') }).then((r) => r.text()), pause(100)]);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-screenshot-'));
  process.env.QKV_TEST_WAL_FAULTS = 'stall';
  const { procs, urls } = await startLocalCluster(dir);
  const browser = await chromium.launch({ executablePath: process.env.QKV_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
  try {
    const leader = await findLeader(urls);
    const start = Date.now();
    const load = Promise.all([kvLoad(leader, start, start + RUN_MS, 4), ingest(leader, start + RUN_MS)]);
    await pause(STALL.atMs);
    await fetch(`${leader}/v1/test/wal-stall`, { method: 'POST', body: JSON.stringify({ delayMs: STALL.delayMs, durationMs: STALL.durationMs }) }).then((r) => r.text());
    await pause(RUN_MS - PAGE_OPEN_BEFORE_END_MS - STALL.atMs);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${leader}/dashboard?book=SYM001`);
    await page.waitForSelector('#ladder tr[data-side="bid"]', { timeout: 15_000 });
    await pause(PAGE_OPEN_BEFORE_END_MS - 2000);
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`wrote ${OUT}`);
    await load;
  } finally {
    await browser.close();
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
