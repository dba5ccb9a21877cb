/**
 * `GET /v1/watch?key=K|prefix=P|start=A&end=B[&types=put,delete]&fromRevision=`: KV changes
 * to one key, under a prefix or in a range (as etcd's watch; neither: every key), puts, deletes or
 * both, as a stream — NDJSON, or server-sent events with `Accept: text/event-stream` — resumable
 * from a revision while the node still retains it (older: 410 `compacted`, as etcd). Lines:
 *
 *   {"type":"put","key","value":<json>,"revision"}    {"type":"delete","key","revision"}
 *   {"type":"progress","revision"}                    every `PROGRESS_MS` (nothing changed meanwhile)
 *   {"type":"slow_consumer","revision"}               last line: the client fell behind
 *   {"type":"end","reason","revision"}                last line: the node stopped, was removed or
 *                                                     installed a snapshot (resume after `revision`),
 *                                                     or `"reason":"compacted"`: a catch-up the
 *                                                     history was trimmed past (read the state anew)
 *
 * Limits: `WATCHES_MAX` open watches per node (more: 503 `overloaded`; each costs every applied
 * batch a filter pass). A consumer that does not read never grows the node's memory without
 * bound: once `WATCH_BUFFER_BYTES_MAX` bytes wait in its response, the stream ends with
 * `slow_consumer` and the client resumes from the revision after the last one it got. The
 * retained changes a resumed watch starts with are sent in parts (`ChangeFeed.catchUp`), each
 * after the reader took most of the last, so they count against neither; no progress line goes
 * out until they are all sent.
 *
 * As server-sent events, the last change of each revision and each progress line carry
 * `id: <revision>` (every change through it was sent), so a browser's EventSource, which
 * reconnects to the same URL with `Last-Event-ID`, resumes right after it: the watch starts at
 * the later of `fromRevision` and that id + 1. (A feed batch holds whole revisions, so the last
 * change of a revision in a write is its last.)
 */
import { QuorumError, UnavailableError } from '../errors';
import type { KvChange, WatchSink, Watching } from '../node/change_feed';
import type { RaftNode } from '../node/raft_node';
import { changeMatcher, type ChangeType, type KeySelector } from '../node/key_match';
import { checkKey, revisionArg } from './args';
import { keyRange } from './kv_range';
import { beginStream, drained, type Res, type Target } from './http';
import type { Reply } from './reply';

export const WATCH_BUFFER_BYTES_MAX = 4 << 20;
export const PROGRESS_MS = 1000;
export const WATCHES_MAX = 4096;

function line(c: KvChange): string {
  const key = JSON.stringify(c.key);
  return c.type === 'put' ? `{"type":"put","key":${key},"value":${c.value!.toString('utf8')},"revision":${c.revision}}` : `{"type":"delete","key":${key},"revision":${c.revision}}`;
}

export function watch(node: RaftNode, target: Target, accept: string | undefined, bufferBytesMax = WATCH_BUFFER_BYTES_MAX): Reply {
  const { selector, visible } = followed(target);
  const matches = changeMatcher(selector, changeTypes(target.query.get('types')));
  const fromRevision = resumeFrom(revisionArg(target.query.get('fromRevision') ?? undefined, 'fromRevision'), target.req?.headers['last-event-id']);
  if (fromRevision !== undefined && node.feed.compacted(fromRevision)) {
    throw new QuorumError('compacted', `changes from revision ${fromRevision} are no longer retained here; read the current state and watch from its revision`, { details: { revision: node.feed.revision } });
  }
  if (node.feed.watcherCount >= WATCHES_MAX) throw new UnavailableError(`at most ${WATCHES_MAX} watches per node are open; retry later or watch through another member`, 'overloaded');
  const sse = (accept ?? '').includes('text/event-stream');
  return { stream: (res) => stream(node, res, { matches, fromRevision, sse, bufferBytesMax, visible }) };
}

/**
 * The revision to start from: after the SSE `Last-Event-ID` an EventSource resends, if later.
 * `fromRevision=0` is "from now", as etcd's start revision 0 (revisions start at 1).
 */
function resumeFrom(asked: number | undefined, lastEventId: string | string[] | undefined): number | undefined {
  const fromRevision = asked === 0 ? undefined : asked;
  const id = revisionArg(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, 'the Last-Event-ID header');
  if (id === undefined) return fromRevision;
  return fromRevision === undefined ? id + 1 : Math.max(fromRevision, id + 1);
}

/** Each change's frame; as SSE, the last change of each revision carries its id. */
function frames(shown: readonly KvChange[], sse: boolean): string {
  if (!sse) return shown.map((c) => `${line(c)}\n`).join('');
  return shown.map((c, i) => `${i === shown.length - 1 || shown[i + 1].revision !== c.revision ? `id: ${c.revision}\n` : ''}data: ${line(c)}\n\n`).join('');
}

/**
 * The keys a watch follows, and of them those its caller may read: a caller allowed part of a
 * prefix or range sees only those keys' changes (checked once, at open); one key, it must be
 * allowed.
 */
function followed(target: Target): { selector: KeySelector; visible: ((key: string) => boolean) | undefined } {
  const query = target.query;
  const key = query.get('key');
  if (key === null) {
    const range = keyRange(query);
    return { selector: range.bounds, visible: target.guard.visible('kv', range.common) };
  }
  if (['prefix', 'start', 'end'].some((name) => query.has(name))) throw new QuorumError('invalid_query', 'a watch follows ?key=, ?prefix= or ?start=&end=, one of them');
  checkKey(key, 'key');
  target.guard.check('kv', key, 'read');
  return { selector: { key }, visible: undefined };
}

/** `types=put`, `delete` or `put,delete` (etcd's NODELETE/NOPUT filters); absent: both. */
function changeTypes(raw: string | null): ReadonlySet<ChangeType> | undefined {
  if (raw === null) return undefined;
  const types = raw.split(',');
  if (!types.every((t): t is ChangeType => t === 'put' || t === 'delete')) throw new QuorumError('invalid_query', `types is a comma-separated list of put and delete, got ${JSON.stringify(raw)}`);
  return new Set(types);
}

interface StreamOptions {
  matches: (c: KvChange) => boolean;
  fromRevision: number | undefined;
  sse: boolean;
  bufferBytesMax: number;
  visible: ((key: string) => boolean) | undefined;
}

function stream(node: RaftNode, res: Res, opts: StreamOptions): void {
  const frame = (text: string) => (opts.sse ? `data: ${text}\n\n` : `${text}\n`);
  let ended = false;
  let cancel = (): void => undefined;
  // A progress line (as SSE, its id) says every change through its revision was sent: not while catching up.
  let live = false;
  const progress = setInterval(() => {
    if (!live) return;
    const revision = node.feed.revision;
    res.write(`${opts.sse ? `id: ${revision}\n` : ''}${frame(`{"type":"progress","revision":${revision}}`)}`);
  }, PROGRESS_MS);
  progress.unref();
  const stop = () => {
    ended = true;
    clearInterval(progress);
    cancel();
  };
  const finish = (last: string) => {
    if (ended) return;
    stop();
    res.end(frame(last));
  };
  res.on('close', stop);
  beginStream(res, opts.sse ? 'text/event-stream' : 'application/x-ndjson');
  const sink: WatchSink = {
    send: (changes) => {
      if (ended) return false;
      const shown = opts.visible ? changes.filter((c) => opts.visible!(c.key)) : changes;
      if (shown.length > 0) res.write(frames(shown, opts.sse));
      if (res.writableLength <= opts.bufferBytesMax) return true;
      finish(`{"type":"slow_consumer","revision":${changes[changes.length - 1].revision}}`);
      return false;
    },
    end: (reason, revision) => finish(`{"type":"end","reason":${JSON.stringify(reason)},"revision":${revision}}`),
  };
  const watching = node.feed.watch(opts.matches, opts.fromRevision, sink);
  const compacted = () => finish(`{"type":"end","reason":"compacted","revision":${node.feed.revision}}`);
  // Checked before the stream started; retention can have moved since.
  if (watching === 'compacted') return compacted();
  if (ended) return watching.cancel();
  cancel = watching.cancel;
  void catchUp(watching, sink, res, opts.bufferBytesMax / 4).then((outcome) => {
    if (outcome === 'compacted') compacted();
    live = outcome === 'live';
  });
}

/**
 * Sends the retained changes since the watch's start a part at a time, waiting for the reader
 * past `unsentBytesMax` unsent — paced by the reader, so a watch resumed far back neither holds
 * its whole history as one write nor ends as a slow consumer — until the watch is live.
 */
async function catchUp(watching: Watching, sink: WatchSink, res: Res, unsentBytesMax: number): Promise<'live' | 'compacted' | 'gone'> {
  for (;;) {
    const part = watching.catchUp();
    if (part === 'compacted') return part;
    if (part.changes.length > 0 && !sink.send(part.changes)) return 'gone';
    if (part.live) return 'live';
    if (res.writableLength > unsentBytesMax) await drained(res);
    if (res.destroyed) return 'gone';
  }
}
