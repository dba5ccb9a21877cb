/**
 * bench/results/spike.svg: per fault, three panels over episode time — write p99 per 100 ms,
 * the write-latency z-score, and the write concurrency limit — throttling off vs on (medians
 * across that mode's episodes), the fault window shaded. Drawn by Vega-Lite, rendered to SVG
 * by Vega without a browser.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Episode } from '../spike';
import { BIN_MS } from './open_loop';
import { median } from './report';

interface Point {
  fault: string;
  mode: string;
  t: number;
  p99?: number;
  z?: number;
  limit?: number;
}

function points(episodes: Episode[]): Point[] {
  const out: Point[] = [];
  const groups = new Map<string, Episode[]>();
  for (const e of episodes) groups.set(`${e.fault}|${e.mode}`, [...(groups.get(`${e.fault}|${e.mode}`) ?? []), e]);
  for (const [key, es] of groups) {
    const [fault, mode] = key.split('|');
    const mode_ = `throttle ${mode}`;
    const bins = Math.max(...es.map((e) => e.p99PerBinMs.length));
    for (let i = 0; i < bins; i++) {
      const p = median(es.map((e) => e.p99PerBinMs[i]).filter((x) => Number.isFinite(x)));
      const inBin = es.flatMap((e) => e.monitor.filter((s) => Math.floor(s.tMs / BIN_MS) === i));
      const t = (i * BIN_MS) / 1000;
      if (Number.isFinite(p)) out.push({ fault, mode: mode_, t, p99: p });
      if (inBin.length > 0) out.push({ fault, mode: mode_, t, z: median(inBin.map((s) => s.z)), limit: median(inBin.map((s) => s.writeLimit)) });
    }
  }
  return out;
}

function panel(fault: string, field: 'p99' | 'z' | 'limit', title: string, log: boolean, window: { from: number; to: number }): vl.TopLevelSpec['vconcat' & keyof vl.TopLevelSpec] {
  return {
    width: 640,
    height: 130,
    title: `${fault}: ${title}`,
    layer: [
      { data: { values: [window] }, mark: { type: 'rect', color: '#f4c7c3', opacity: 0.6 }, encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } } },
      {
        transform: [{ filter: `datum.fault === '${fault}' && isValid(datum.${field})` }],
        mark: { type: 'line', strokeWidth: 1.2 },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds into the episode' },
          y: { field, type: 'quantitative', title, scale: log ? { type: 'log' } : {} },
          color: { field: 'mode', type: 'nominal', scale: { domain: ['throttle off', 'throttle on'], range: ['#d62728', '#1f77b4'] } },
        },
      },
    ],
  } as never;
}

export async function renderSpikeChart(episodes: Episode[], baseMs: number, faultMs: Record<string, number>): Promise<string> {
  const faults = [...new Set(episodes.map((e) => e.fault))];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'quorumkv spike experiment: open-loop writes, throttling off vs on (medians across episodes)',
    data: { values: points(episodes) },
    vconcat: faults.flatMap((f) => {
      const window = { from: baseMs / 1000, to: (baseMs + faultMs[f]) / 1000 };
      return [panel(f, 'p99', 'write p99 per 100 ms (ms, log)', true, window), panel(f, 'z', 'write latency z-score', false, window), panel(f, 'limit', 'write concurrency limit', true, window)];
    }),
  } as vl.TopLevelSpec;
  const compiled = vl.compile(spec).spec;
  return new vega.View(vega.parse(compiled), { renderer: 'none' }).toSVG();
}
