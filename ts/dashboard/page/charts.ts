/**
 * Time-series charts (uPlot, served by the node): one class per chart kind. Every chart keeps
 * its own columns; `redraw` hands them to uPlot once per sample (not per point).
 */
import { Columns } from './columns.js';

export const HISTORY_POINTS_MAX = 600;
const HEIGHT_PX = 190;

export interface SeriesSpec {
  label: string;
  color: string;
  dash?: number[];
}

export interface ChartSpec {
  el: HTMLElement;
  title: string;
  unit: string;
  series: SeriesSpec[];
  /** A log-scaled y axis (for limits that span 1..4096). */
  log?: boolean;
  /** Fill between these two series (1-based: uPlot's indices). */
  band?: [number, number];
  /** x ranges (epoch seconds) to shade behind the series. */
  shade?: () => [number, number][];
}

const charts: TimeChart[] = [];
window.addEventListener('resize', () => {
  for (const c of charts) c.fit();
});

export class TimeChart {
  readonly cols: Columns;
  private readonly plot: uPlot;

  constructor(private readonly spec: ChartSpec) {
    this.cols = new Columns(spec.series.length, HISTORY_POINTS_MAX);
    const opts: uPlot.Options = {
      title: spec.title,
      width: this.width(),
      height: HEIGHT_PX,
      scales: { x: { time: true }, y: spec.log ? { distr: 3 } : { auto: true } },
      series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, dash: s.dash, spanGaps: false, points: { show: false } }))],
      axes: [{}, { label: spec.unit, size: 60 }],
      bands: spec.band ? [{ series: spec.band, fill: 'rgba(31, 119, 180, 0.12)' }] : undefined,
      hooks: spec.shade ? { drawClear: [(u: uPlot) => shade(u, spec.shade!())] } : undefined,
    };
    this.plot = new uPlot(opts, this.cols.data(), spec.el);
    charts.push(this);
  }

  push(tSec: number, values: readonly (number | null)[]): void {
    this.cols.push(tSec, values);
  }

  redraw(): void {
    this.plot.setData(this.cols.data());
  }

  clear(): void {
    this.cols.clear();
  }

  fit(): void {
    this.plot.setSize({ width: this.width(), height: HEIGHT_PX });
  }

  private width(): number {
    return Math.max(300, this.spec.el.clientWidth || 420);
  }
}

/** Shades `ranges` across the plot area, under the series. */
function shade(u: uPlot, ranges: [number, number][]): void {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.fillStyle = 'rgba(179, 38, 30, 0.16)';
  for (const [a, b] of ranges) {
    const x0 = Math.max(bbox.left, u.valToPos(a, 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(b, 'x', true));
    if (x1 > x0) ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
  }
  ctx.restore();
}

/**
 * One monitor signal: its value, the EWMA baseline μ and the band μ ± kσ, with the samples
 * the detector called anomalous shaded.
 */
export class SignalChart {
  private readonly chart: TimeChart;
  private readonly anomalous: boolean[] = [];

  constructor(el: HTMLElement, title: string, unit: string) {
    this.chart = new TimeChart({
      el,
      title,
      unit,
      series: [
        { label: 'value', color: '#1d232a' },
        { label: 'baseline μ', color: '#1f77b4', dash: [4, 3] },
        { label: 'μ + kσ', color: 'rgba(31, 119, 180, 0.45)' },
        { label: 'μ − kσ', color: 'rgba(31, 119, 180, 0.45)' },
      ],
      band: [3, 4],
      shade: () => this.ranges(),
    });
  }

  push(tSec: number, value: number | null, mu: number, sigma: number, k: number, anomaly: boolean): void {
    this.chart.push(tSec, [value, mu, mu + k * sigma, Math.max(0, mu - k * sigma)]);
    this.anomalous.push(anomaly);
    if (this.anomalous.length > this.chart.cols.length) this.anomalous.shift();
  }

  redraw(): void {
    this.chart.redraw();
  }

  clear(): void {
    this.chart.clear();
    this.anomalous.length = 0;
  }

  /** Runs of anomalous samples as x ranges (half a sample either side). */
  private ranges(): [number, number][] {
    const out: [number, number][] = [];
    const cols = this.chart.cols;
    for (let i = 0; i < this.anomalous.length; i++) {
      if (!this.anomalous[i]) continue;
      const start = cols.x(i) - 0.5;
      while (i + 1 < this.anomalous.length && this.anomalous[i + 1]) i++;
      out.push([start, cols.x(i) + 0.5]);
    }
    return out;
  }
}
