/**
 * Replay of stored market data for backtests (see ts/market/replay.ts):
 *
 *   POST /v1/md/replay                  {"instruments":[…], "kinds"?, "from"?, "to"?, "speed"?,
 *                                       "depth"?, "snapshotEvery"?, "fromSeq"?, "format"?}
 *                                       → the session's stream on this response (NDJSON; SSE with
 *                                       `Accept: text/event-stream`; binary frames with
 *                                       `Accept: application/octet-stream`); its id in `x-replay-id`
 *   GET  /v1/md/replay                  → {"sessions":[…progress…]} (each also logged as
 *                                       `replay_finished` when its session ends)
 *   POST /v1/md/replay/{id}/pause       → the session's progress
 *   POST /v1/md/replay/{id}/resume
 *   POST /v1/md/replay/{id}/seek        {"at": T} → continue from venue time T
 *
 * Lines: an event is its ingest shape plus `"seq"`; a book snapshot is `{"kind":"book", …the
 * book shape…}`; the last line is `{"kind":"done","events":n,"snapshots":n,"seq":"s"}`. A broken
 * session resumes with `"fromSeq"` = the seq of the last event line it delivered (SSE: the
 * `Last-Event-ID` header). `speed` is a multiple of real time or `"max"` (the default).
 * Limits: `REPLAY_SESSIONS_MAX` sessions per node (more: 503 `overloaded`),
 * `REPLAY_INSTRUMENTS_MAX` instruments per session, speeds up to `SPEED_MAX`.
 */
import { logEvent } from '../log';
import { QuorumError, UnavailableError } from '../errors';
import { integerFields, quoteIntegers } from '../market/records';
import { type ReplayFormat, type ReplayKind, type ReplayOutput, ReplaySession, type ReplaySpec } from '../market/replay';
import type { RaftNode } from '../node/raft_node';
import { onlyFields, parseObject } from './args';
import { knownInstrumentIds } from './known_instruments';
import { beginStream, drained, mediaType, type Res, type Target } from './http';
import { DEPTH_MAX } from './market';
import type { Reply } from './reply';
import { parseDurationNs, parseVenueTime } from './venue_time';

export const REPLAY_SESSIONS_MAX = 32;
export const REPLAY_INSTRUMENTS_MAX = 1000;
export const SPEED_MAX = 1_000_000;
const KINDS = new Set<ReplayKind>(['delta', 'trade', 'quote', 'book']);
const CONTENT_TYPES: Record<ReplayFormat, string> = { ndjson: 'application/x-ndjson', sse: 'text/event-stream', binary: 'application/octet-stream' };
const U64_MAX = 2n ** 64n - 1n;
/** Fields whose integer values are kept exact (they exceed 2^53). */
const U64_FIELDS = integerFields(['from', 'to', 'fromSeq', 'snapshotEvery', 'at']);


function body64(body: Buffer): Record<string, unknown> {
  return parseObject(Buffer.from(quoteIntegers(body.toString('utf8'), U64_FIELDS)), 'describing the replay');
}

function formatOf(doc: Record<string, unknown>, accept: string | undefined): ReplayFormat {
  if (doc.format !== undefined) {
    if (doc.format !== 'ndjson' && doc.format !== 'sse' && doc.format !== 'binary') throw new QuorumError('invalid_body', 'format is ndjson, sse or binary');
    return doc.format;
  }
  const type = mediaType(accept?.split(',')[0]);
  return type === 'text/event-stream' ? 'sse' : type === 'application/octet-stream' ? 'binary' : 'ndjson';
}

const SPEC_FIELDS = new Set(['instruments', 'kinds', 'from', 'to', 'speed', 'depth', 'snapshotEvery', 'fromSeq', 'format']);

/** The spec, its instruments by name (their ids are looked up once the whole spec is checked). */
function parseSpec(target: Target, body: Buffer): Omit<ReplaySpec, 'instruments' | 'producers'> & { names: string[] } {
  const doc = body64(body);
  onlyFields(doc, SPEC_FIELDS, 'the replay');
  const names = doc.instruments;
  if (!Array.isArray(names) || names.length === 0 || names.length > REPLAY_INSTRUMENTS_MAX || !names.every((n) => typeof n === 'string')) {
    throw new QuorumError('invalid_body', `instruments must be 1..${REPLAY_INSTRUMENTS_MAX} instrument names`);
  }
  if (new Set(names).size !== names.length) throw new QuorumError('invalid_body', 'instruments are named once each');
  for (const symbol of names as string[]) target.guard.check('md', symbol, 'read');
  const kinds = new Set((doc.kinds ?? [...KINDS]) as ReplayKind[]);
  if (!Array.isArray(doc.kinds ?? []) || kinds.size === 0 || [...kinds].some((k) => !KINDS.has(k))) throw new QuorumError('invalid_body', 'kinds are a non-empty list of delta, trade, quote and book');
  const fromTs = doc.from === undefined ? 0n : parseVenueTime(doc.from, 'from');
  const toTs = doc.to === undefined ? U64_MAX : parseVenueTime(doc.to, 'to');
  if (toTs <= fromTs) throw new QuorumError('invalid_time', 'to must be after from (to is exclusive)');
  const speed = doc.speed ?? 'max';
  if (speed !== 'max' && (typeof speed !== 'number' || !(speed > 0) || speed > SPEED_MAX)) throw new QuorumError('invalid_body', `speed is "max" or a multiple of real time in (0, ${SPEED_MAX}]`);
  const depth = doc.depth ?? 10;
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 1 || depth > DEPTH_MAX) throw new QuorumError('invalid_depth', `depth must be an integer in 1..${DEPTH_MAX}`);
  const snapshotEveryNs = doc.snapshotEvery === undefined ? 0n : parseDurationNs(doc.snapshotEvery, 'snapshotEvery');
  const resumeRaw = doc.fromSeq ?? target.req?.headers['last-event-id'];
  if (resumeRaw !== undefined && (typeof resumeRaw !== 'string' || !/^\d{1,20}$/.test(resumeRaw))) throw new QuorumError('invalid_body', 'fromSeq must be a seq (a decimal integer)');
  const fromSeq = resumeRaw === undefined ? undefined : BigInt(resumeRaw);
  return { names: names as string[], kinds, fromTs, toTs, speed, depth, snapshotEveryNs, format: formatOf(doc, target.accept), fromSeq };
}

/** `POST /v1/md/replay`: opens a session and streams it on this response. */
export async function openReplay(node: RaftNode, target: Target, body: Buffer): Promise<Reply> {
  const { names, ...rest } = parseSpec(target, body);
  const ids = await knownInstrumentIds(node, names);
  const instruments = names.map((symbol, i) => ({ id: ids[i], symbol, keptFromSeq: node.market.keptFrom(ids[i])?.seq }));
  const spec: ReplaySpec = { ...rest, instruments, producers: node.market.producerTable().slice() };
  const open = node.market.replays;
  if (open.size >= REPLAY_SESSIONS_MAX) throw new UnavailableError(`at most ${REPLAY_SESSIONS_MAX} replay sessions per node are open; retry later or use another member`, 'overloaded');
  // The cut: records applied by now (seq = raftIndex × 2^16 + position).
  const seqLimit = ((BigInt(node.status().appliedIndex) + 1n) << 16n) - 1n;
  let res: Res | undefined;
  const out: ReplayOutput = {
    write: (chunk) => void res!.write(chunk),
    buffered: () => res!.writableLength,
    drained: () => drained(res!),
    end: () => res!.end(),
    get closed() {
      return res === undefined || res.destroyed || res.writableEnded;
    },
  };
  const session = new ReplaySession(() => node.keys, spec, seqLimit, out, (id) => node.market.keptFrom(id)?.seq);
  await session.prepare();
  return {
    stream: (raw) => {
      res = beginStream(raw, CONTENT_TYPES[spec.format], ['x-replay-id', session.id]);
      open.set(session.id, session);
      res.once('close', () => session.stop());
      session
        .run()
        .catch((err: Error) => {
          // A failure after the headers went out (e.g. the store was closed): end with its line.
          if (!res!.writableEnded && spec.format !== 'binary') res!.end(`${JSON.stringify({ kind: 'end', reason: (err as { code?: string }).code ?? 'internal' })}\n`);
          else if (!res!.writableEnded) res!.destroy(err);
        })
        .finally(() => {
          open.delete(session.id);
          // Its figures (events, lag, the server's schedule error) outlive the session here.
          logEvent('replay_finished', session.progress());
        });
    },
  };
}

/** The progress of this node's open replay sessions (the dashboard shows them). */
export function replayProgress(node: RaftNode): Record<string, unknown>[] {
  return [...node.market.replays.values()].map((s) => s.progress());
}

/** `GET /v1/md/replay`: this node's sessions and their progress. */
export function listReplays(node: RaftNode): Reply {
  return { body: { sessions: replayProgress(node) } };
}

const SEEK_FIELDS = new Set(['at']);

/** `POST /v1/md/replay/{id}/pause|resume|seek`. */
export async function controlReplay(node: RaftNode, id: string, action: string, body: Buffer): Promise<Reply> {
  const session = node.market.replays.get(id);
  if (!session) throw new QuorumError('replay_not_found', `no open replay session ${id} on this node`);
  if (action === 'pause') session.pause();
  else if (action === 'resume') session.resume();
  else {
    const doc = body64(body);
    onlyFields(doc, SEEK_FIELDS, 'the seek');
    const at = parseVenueTime(doc.at, 'at');
    if (at >= session.spec.toTs) throw new QuorumError('invalid_time', 'at must be before the session\'s to');
    await session.seek(at);
  }
  return { body: session.progress() };
}
