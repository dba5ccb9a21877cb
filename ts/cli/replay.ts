/**
 * `quorumkv md replay`: opens a replay session (POST /v1/md/replay) and writes its data to stdout
 * or a file, with a progress line on stderr (market time reached, events/s, snapshots/s, lag
 * behind the schedule). Sessions go to the replay cluster first — learners — then followers,
 * and to the leader only when no other member answers, so backtests stay off the live leader.
 */
import { call, callAny } from './http_client';
import { type MembersView, replayOrder } from '../client/streams';
import { createWriteStream } from 'node:fs';

export interface ReplayCliOptions {
  endpoint: string[];
  instruments: string[];
  kinds?: string[];
  from?: string;
  to?: string;
  speed: number | 'max';
  depth: number;
  snapshotEvery?: string;
  format: 'ndjson' | 'binary';
  out?: string;
}

/** Client URLs to try, in order: learners, followers, the leader (from the first endpoint that answers; else the endpoints). */
export async function replayTargets(endpoints: readonly string[]): Promise<string[]> {
  try {
    const res = await callAny(endpoints, '/v1/cluster/members?consistency=stale');
    const urls = replayOrder((await res.json()) as MembersView, 'http:');
    return urls.length > 0 ? urls : [...endpoints];
  } catch {
    return [...endpoints];
  }
}

/** Counts what passes: events, snapshots and the venue time reached. */
export class Progress {
  /** Binary: event frames; NDJSON: every line (events, books and the final `done`). */
  events = 0;
  snapshots = 0;
  private done = 0;
  firstTs: bigint | undefined;
  lastTs = 0n;
  private rest = Buffer.alloc(0);
  /** NDJSON: the unterminated end of the last chunk. */
  private partial = '';
  private readonly started = Date.now();

  constructor(private readonly opts: ReplayCliOptions) {}

  see(chunk: Buffer): void {
    if (this.opts.format === 'binary') this.frames(chunk);
    else this.lines(chunk);
  }

  private lines(chunk: Buffer): void {
    // Whole lines only: a chunk may end inside a line (its '{"kind":"book"' split in two).
    const all = this.partial + chunk.toString('latin1');
    const end = all.lastIndexOf('\n') + 1;
    this.partial = all.slice(end);
    const text = all.slice(0, end);
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.events++;
    for (let at = text.indexOf('{"kind":"book"'); at !== -1; at = text.indexOf('{"kind":"book"', at + 1)) this.snapshots++;
    if (text.includes('{"kind":"done"')) this.done++;
    // The market time reached: the last tsEvent of these lines (the last line may be `done`).
    const at = text.lastIndexOf('"tsEvent":"');
    const ts = at === -1 ? null : /^"tsEvent":"(\d+)"/.exec(text.slice(at, at + 40));
    if (ts) this.reached(BigInt(ts[1]));
  }

  private frames(chunk: Buffer): void {
    let buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32LE(1)) {
      const len = buf.readUInt32LE(1);
      if (buf[0] === 1) {
        this.events++;
        this.reached(buf.readBigUInt64LE(5 + 48));
      } else if (buf[0] === 2) this.snapshots++;
      buf = buf.subarray(5 + len);
    }
    this.rest = Buffer.from(buf);
  }

  private reached(ts: bigint): void {
    this.firstTs ??= ts;
    this.lastTs = ts;
  }

  line(): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const market = this.lastTs > 0n ? new Date(Number(this.lastTs / 1_000_000n)).toISOString() : '-';
    const behind = this.opts.speed === 'max' || this.firstTs === undefined ? '' : `  lag ${Math.max(0, Math.round(seconds * 1000 - Number(this.lastTs - this.firstTs) / 1e6 / this.opts.speed))} ms`;
    const events = this.opts.format === 'binary' ? this.events : this.events - this.snapshots - this.done;
    return `\rmarket ${market}  ${events.toLocaleString('en-US')} events  ${Math.round(events / seconds).toLocaleString('en-US')} events/s  ${Math.round(this.snapshots / seconds).toLocaleString('en-US')} snapshots/s${behind}  `;
  }
}

export async function replayCommand(opts: ReplayCliOptions): Promise<void> {
  const body = JSON.stringify({ instruments: opts.instruments, kinds: opts.kinds, from: opts.from, to: opts.to, speed: opts.speed, depth: opts.depth, snapshotEvery: opts.snapshotEvery, format: opts.format });
  for (const url of await replayTargets(opts.endpoint)) {
    let res: Response;
    try {
      res = await call(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    } catch {
      continue; // unreachable: the next member
    }
    if (res.status === 503) continue;
    if (!res.ok) {
      console.error(await res.text());
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`replaying from ${url} (session ${res.headers.get('x-replay-id')})\n`);
    await copy(res, opts);
    return;
  }
  throw new Error('no member could serve the replay (all unreachable or overloaded)');
}

async function copy(res: Response, opts: ReplayCliOptions): Promise<void> {
  const out: NodeJS.WritableStream = opts.out ? createWriteStream(opts.out) : process.stdout;
  const progress = new Progress(opts);
  const timer = setInterval(() => process.stderr.write(progress.line()), 500);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const buf = Buffer.from(chunk);
      progress.see(buf);
      if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  } finally {
    clearInterval(timer);
  }
  process.stderr.write(`${progress.line()}\n`);
  if (opts.out) await new Promise<void>((resolve) => out.end(() => resolve()));
}
