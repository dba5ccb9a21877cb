/**
 * `quorumkv monitor [--watch]`: a node's health monitor as a table — each signal's baseline
 * (μ, σ), last window value and z, its state; the throttle limits per class; recent anomaly
 * episodes. `--watch` redraws every interval until Ctrl-C.
 */
import { callAny } from './http_client';
import type { MonitorReport } from '../monitor/node_health';

const fmt = (x: number | null) => (x === null ? '-' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

export function renderMonitor(r: MonitorReport): string {
  const lines: string[] = [];
  lines.push(`node n${r.node}  window ${r.windowMs} ms  windows ${r.windows}  throttle ${r.throttle.enabled ? 'on' : 'off'}`);
  lines.push('');
  lines.push(`${'signal'.padEnd(16)}${'mu'.padStart(10)}${'sigma'.padStart(10)}${'last'.padStart(10)}${'z'.padStart(9)}  state`);
  for (const [name, s] of Object.entries(r.signals)) {
    lines.push(`${name.padEnd(16)}${fmt(s.mu).padStart(10)}${fmt(s.sigma).padStart(10)}${fmt(s.lastValue).padStart(10)}${fmt(s.z).padStart(9)}  ${s.state}`);
  }
  lines.push('');
  lines.push(`${'class'.padEnd(16)}${'limit'.padStart(8)}${'inflight'.padStart(10)}${'queued'.padStart(8)}${'shed'.padStart(10)}`);
  for (const [cls, c] of Object.entries(r.throttle.classes)) {
    lines.push(`${cls.padEnd(16)}${String(c.limit).padStart(8)}${String(c.inflight).padStart(10)}${String(c.queued).padStart(8)}${String(c.shedTotal).padStart(10)}`);
  }
  lines.push('');
  lines.push(r.events.length === 0 ? 'no anomalies recorded' : 'recent anomalies (newest last):');
  for (const e of r.events.slice(-10)) {
    const end = e.endMs === null ? 'ongoing' : `${((e.endMs - e.startMs) / 1000).toFixed(1)} s`;
    lines.push(`  ${new Date(e.startMs).toISOString()}  ${e.signal.padEnd(15)} peak z ${e.peakZ.toFixed(1)}  ${end}`);
  }
  return lines.join('\n');
}

async function fetchReport(endpoints: readonly string[]): Promise<MonitorReport> {
  const res = await callAny(endpoints, '/v1/monitor');
  const body = (await res.json()) as MonitorReport & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${res.status} ${body.error?.code}: ${body.error?.message}`);
  return body;
}

export async function monitorCommand(o: { endpoint: readonly string[]; watch?: boolean; intervalMs: number }): Promise<void> {
  if (!o.watch) {
    console.log(renderMonitor(await fetchReport(o.endpoint)));
    return;
  }
  for (;;) {
    const text = await fetchReport(o.endpoint).then(renderMonitor, (err: Error) => `error: ${err.message}`);
    process.stdout.write(`\x1b[2J\x1b[H${text}\n`);
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
}
