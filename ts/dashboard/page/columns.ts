/**
 * A chart's data as uPlot wants it: x (epoch seconds) then one column per series, at most
 * `max` points (the node's history length), oldest dropped first.
 */
export class Columns {
  private readonly cols: (number | null)[][];

  constructor(
    series: number,
    private readonly max: number,
  ) {
    this.cols = Array.from({ length: series + 1 }, () => []);
  }

  push(tSec: number, values: readonly (number | null)[]): void {
    if (values.length !== this.cols.length - 1) throw new Error(`columns: ${values.length} values for ${this.cols.length - 1} series`);
    this.cols[0].push(tSec);
    values.forEach((v, i) => this.cols[i + 1].push(v));
    if (this.cols[0].length > this.max) for (const c of this.cols) c.shift();
  }

  clear(): void {
    for (const c of this.cols) c.length = 0;
  }

  get length(): number {
    return this.cols[0].length;
  }

  /** The x value of point `i`. */
  x(i: number): number {
    return this.cols[0][i] as number;
  }

  data(): uPlot.AlignedData {
    return this.cols as unknown as uPlot.AlignedData;
  }
}
