/**
 * `quorumkv md replay`: opens a replay session (POST /v1/md/replay) and writes its data to stdout
 * or a file, with a progress line on stderr (market time reached, events/s, snapshots/s, lag
 * behind the schedule). Sessions go to the replay cluster first — learners — then followers,
 * and to the leader only when no other member answers, so backtests stay off the live leader.
 * A session that breaks (its member failed) is opened again after the last event written, on
 * the first member that takes it: the output holds each event once, and only whole lines or
 * frames; the books of the resume point are sent again (a resumed session opens with them).
 */
import { createWriteStream } from 'node:fs';
import { call, callAny } from './http_client';
import { type MembersView, replayOrder } from '../client/streams';
import { Progress } from './replay_progress';

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
  /** Resume after this seq (the last event a broken session delivered). */
  fromSeq?: string;
}

/** Client URLs to try, in order: learners, followers, the leader (from the first endpoint that answers; else the endpoints). */
export async function replayTargets(endpoints: readonly string[]): Promise<string[]> {
  try {
    const res = await callAny(endpoints, '/v1/cluster/members?consistency=stale');
    // Members list addresses without a scheme: a cluster serves one (https with --cert).
    const urls = replayOrder((await res.json()) as MembersView, new URL(endpoints[0]).protocol);
    return urls.length > 0 ? urls : [...endpoints];
  } catch {
    return [...endpoints];
  }
}

/** Sessions opened again in a row without an event passing, before giving up. */
const REOPENS_MAX = 8;
const REOPEN_BACKOFF_MS_MAX = 2000;

export async function replayCommand(opts: ReplayCliOptions): Promise<void> {
  const targets = await replayTargets(opts.endpoint);
  const progress = new Progress(opts);
  const out: NodeJS.WritableStream = opts.out ? createWriteStream(opts.out) : process.stdout;
  const timer = setInterval(() => status.progress(progress.line()), 500);
  try {
    for (let reopens = 0; ; reopens++) {
      const seqBefore = progress.lastSeq;
      const res = await openSession(targets, sessionBody(opts, progress.lastSeq ?? opts.fromSeq));
      if (!res.ok) {
        status.notice(await res.text());
        process.exitCode = 1;
        return;
      }
      await copy(res, progress, out).catch((err: Error) => status.notice(`the session broke: ${err.message}`));
      if (progress.finished) break;
      // Without an event passed, it opens again from the start (its opening books come again); a
      // replay of book snapshots alone has no event seq to resume after.
      if (progress.passed && progress.lastSeq === undefined && !(opts.kinds ?? ['delta']).some((k) => k !== 'book')) throw new Error('a replay of book snapshots only cannot resume (its lines carry no event seq): run it again');
      if (progress.lastSeq !== seqBefore) reopens = 0;
      if (reopens >= REOPENS_MAX) throw new Error(`the session broke ${REOPENS_MAX} times without progress`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(REOPEN_BACKOFF_MS_MAX, 100 * 2 ** reopens)));
      progress.reopened();
      status.notice(progress.lastSeq === undefined ? 'opening it again from the start' : `resuming after seq ${progress.lastSeq}`);
    }
  } finally {
    clearInterval(timer);
  }
  process.stderr.write(`${progress.line()}\n`);
  if (opts.out) await new Promise<void>((resolve) => out.end(() => resolve()));
}

function sessionBody(opts: ReplayCliOptions, fromSeq: string | undefined): string {
  return JSON.stringify({ instruments: opts.instruments, kinds: opts.kinds, from: opts.from, to: opts.to, speed: opts.speed, depth: opts.depth, snapshotEvery: opts.snapshotEvery, format: opts.format, fromSeq });
}

/**
 * stderr: the progress line is redrawn in place (`\r`); a notice starts on a line of its own,
 * so it never runs on from a progress line written just before it.
 */
const status = {
  midLine: false,
  progress(line: string): void {
    process.stderr.write(line);
    this.midLine = true;
  },
  notice(text: string): void {
    process.stderr.write(`${this.midLine ? '\n' : ''}${text}\n`);
    this.midLine = false;
  },
};

/** Opens the session on the first target that takes it (unreachable or 503: the next one); a refusal is returned as is. */
async function openSession(targets: readonly string[], body: string): Promise<Response> {
  for (const url of targets) {
    let res: Response;
    try {
      res = await call(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    } catch {
      continue; // unreachable: the next member
    }
    if (res.status === 503) continue;
    if (res.ok) status.notice(`replaying from ${url} (session ${res.headers.get('x-replay-id')})`);
    return res;
  }
  throw new Error('no member could serve the replay (all unreachable or overloaded)');
}

/** Writes the response's whole lines or frames until it ends; throws if its connection breaks. */
async function copy(res: Response, progress: Progress, out: NodeJS.WritableStream): Promise<void> {
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const whole = progress.take(Buffer.from(chunk));
    if (whole.length > 0 && !out.write(whole)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
}
