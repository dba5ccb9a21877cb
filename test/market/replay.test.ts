/**
 * Replay on one node: a generated day (several instruments, past two book checkpoints of the
 * busiest) is ingested, then replayed — merged order, the exact stored events, books equal to a
 * reference book, a mid-day start, resume, pacing, pause/seek, the binary and SSE forms, and
 * clear errors for bad requests.
 */
import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { generate } from '../../ts/market/generator';
import { CHECKPOINT_EVERY_EVENTS } from '../../ts/market/state';
import { ReferenceBook, type RefEvent } from '../helpers/reference_book';
import { pollUntil } from '../helpers/poll';
import { singleNode, type SingleNode } from '../helpers/single_node';

type Line = Record<string, any>;

const LINES = [...generate({ instruments: 3, minutes: 1, seed: 5, eventsPerSecond: 300 })];
const INPUT: Line[] = LINES.map((l) => JSON.parse(l));
const SYMBOLS = ['SYM001', 'SYM002', 'SYM003'];
const T0 = BigInt(INPUT[0].tsEvent);
const T_END = BigInt(INPUT[INPUT.length - 1].tsEvent);

/** One node holds the day for every test here (replays only read it). */
let shared: Promise<SingleNode> | undefined;
/** Hooks may not register teardowns: the shared node's are run after every test. */
const cleanups: (() => unknown)[] = [];
const hookContext = { teardown: (fn: () => unknown) => cleanups.push(fn), fail: (message: string) => process.stderr.write(`${message}\n`) } as unknown as ExecutionContext;

test.after.always(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

test.before(async (t) => {
  t.timeout(120_000);
  shared = (async () => {
    const n = await singleNode(hookContext);
    for (let i = 0; i < LINES.length; i += 2000) {
      const res = await fetch(n.url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: LINES.slice(i, i + 2000).join('\n') });
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    }
    return n;
  })();
  await shared;
});

async function ingested(_t: ExecutionContext): Promise<SingleNode> {
  return shared!;
}

function replay(n: SingleNode, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(n.url('/v1/md/replay'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function text(n: SingleNode, body: Record<string, unknown>): Promise<string> {
  const res = await replay(n, body);
  if (res.status !== 200) throw new Error(`replay answered ${res.status}: ${await res.text()}`);
  return res.text();
}

const parse = (out: string): Line[] => out.trimEnd().split('\n').map((l) => JSON.parse(l));

test('a replay merges instruments by (tsEvent, seq), shows exactly the stored events and books equal to a reference', async (t) => {
  t.timeout(90_000);
  const n = await ingested(t);
  t.true(INPUT.filter((e) => e.instrument === 'SYM001').length > 2 * CHECKPOINT_EVERY_EVENTS, 'the busiest instrument has checkpoints');
  const out = await text(n, { instruments: SYMBOLS });
  const lines = parse(out);
  const events = lines.filter((l) => l.kind !== 'book' && l.kind !== 'done');
  t.is(events.length, INPUT.length);
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1], events[i]];
    t.true(BigInt(a.tsEvent) < BigInt(b.tsEvent) || (a.tsEvent === b.tsEvent && BigInt(a.seq) < BigInt(b.seq)), `line ${i} is in (tsEvent, seq) order`);
  }
  // The same objects GET /v1/md/ticks serves (the live stream's shape), byte for byte.
  const page = (await (await fetch(n.url('/v1/md/ticks/SYM002?limit=10000'))).json()) as { events: Line[] };
  const replayed = out.split('\n').filter((l) => l.includes('"instrument":"SYM002"') && !l.startsWith('{"kind":"book"'));
  t.deepEqual(replayed, page.events.map((e) => JSON.stringify(e)));
  // After each change, the book equals a reference built from the input up to that event.
  const refs = new Map(SYMBOLS.map((s) => [s, new ReferenceBook()]));
  let checked = 0;
  for (const [i, l] of lines.entries()) {
    if (l.kind === 'delta') refs.get(l.instrument)!.apply(l as RefEvent);
    if (l.kind === 'book' && i % 97 === 0) {
      const ref = refs.get(l.instrument)!.levels(10);
      t.deepEqual({ bids: l.bids, asks: l.asks }, ref, `book line ${i}`);
      checked++;
    }
  }
  t.true(checked > 50);
  const done = lines[lines.length - 1];
  t.deepEqual(done, { kind: 'done', events: INPUT.length, snapshots: lines.filter((l) => l.kind === 'book').length, seq: events[events.length - 1].seq });
  t.is(createHash('sha256').update(await text(n, { instruments: SYMBOLS })).digest('hex'), createHash('sha256').update(out).digest('hex'), 'the same request gives the same bytes');
});

test('a replay from mid-day opens with the books of that time, and a broken one resumes exactly', async (t) => {
  t.timeout(90_000);
  const n = await ingested(t);
  const from = T0 + (T_END - T0) / 2n + 7n;
  const kinds = ['delta', 'trade', 'quote', 'book'];
  const full = await text(n, { instruments: SYMBOLS, kinds, snapshotEvery: '1s' });
  const mid = parse(await text(n, { instruments: SYMBOLS, kinds, from: from.toString(), to: T_END.toString(), snapshotEvery: '1s' }));
  for (const [i, symbol] of SYMBOLS.entries()) {
    const past = (await (await fetch(n.url(`/v1/md/books/${symbol}?depth=10&at=${from - 1n}`))).json()) as Line;
    t.deepEqual(mid[i], { kind: 'book', ...past }, `${symbol}'s opening book is its book just before from`);
  }
  const midEvents = mid.filter((l) => l.kind !== 'book' && l.kind !== 'done');
  const expected = parse(full).filter((l) => l.kind !== 'book' && l.kind !== 'done' && BigInt(l.tsEvent) >= from && BigInt(l.tsEvent) < T_END);
  t.deepEqual(midEvents, expected, 'then exactly the events in [from, to)');
  // Resume after an event line somewhere in the middle: the rest equals the full run's rest.
  const fullLines = full.trimEnd().split('\n');
  const cut = fullLines.findIndex((l, i) => i > fullLines.length / 3 && l.startsWith('{"kind":"trade"'));
  const seq = JSON.parse(fullLines[cut]).seq as string;
  const rest = (await text(n, { instruments: SYMBOLS, kinds, snapshotEvery: '1s', fromSeq: seq })).trimEnd().split('\n');
  t.deepEqual(rest.slice(0, -1), fullLines.slice(cut + 1, -1));
  // Resumed after the last event: nothing is left, and the done line keeps the resume token.
  const lastSeq = JSON.parse(fullLines[fullLines.length - 1]).seq as string;
  const none = (await text(n, { instruments: SYMBOLS, kinds, snapshotEvery: '1s', fromSeq: lastSeq })).trimEnd().split('\n');
  t.deepEqual(none.map((l) => JSON.parse(l) as unknown), [{ kind: 'done', events: 0, snapshots: 0, seq: lastSeq }]);
  t.is((await replay(n, { instruments: SYMBOLS, fromSeq: '12345' })).status, 400, 'a seq that is no event of these instruments');
});

/** Reads a paced stream, noting when each line arrived (ms since the request). */
async function timedLines(res: Response, started: number): Promise<{ line: Line; atMs: number }[]> {
  const out: { line: Line; atMs: number }[] = [];
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of res.body!) {
    const atMs = performance.now() - started;
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop()!;
    for (const p of parts) out.push({ line: JSON.parse(p), atMs });
  }
  return out;
}

test('a paced replay sends each event no earlier than its venue time allows', async (t) => {
  t.timeout(60_000);
  const n = await ingested(t);
  const from = T0 + 10_000_000_000n;
  const to = from + 1_000_000_000n; // one venue second at 10x: about 100 ms
  const started = performance.now();
  const res = await replay(n, { instruments: SYMBOLS, kinds: ['trade', 'quote', 'delta'], from: from.toString(), to: to.toString(), speed: 10 });
  const lines = await timedLines(res, started);
  const events = lines.filter((l) => l.line.kind !== 'done');
  t.true(events.length > 100);
  for (const { line, atMs } of events) {
    const dueMs = Number(BigInt(line.tsEvent) - from) / 1e6 / 10;
    t.true(atMs >= dueMs - 1, `seq ${line.seq} arrived at ${atMs.toFixed(2)} ms, due at ${dueMs.toFixed(2)} ms`);
  }
});

test('a paced replay sends exactly the lines a max-speed one does (its reads are smaller)', async (t) => {
  t.timeout(60_000);
  const n = await ingested(t);
  // A paced session reads at most 64 KiB per read (a block or two here), a max-speed one up to
  // 1 MiB: the pages differ, the lines may not. The whole day at 1000x takes about 60 ms.
  const body = { instruments: SYMBOLS, kinds: ['trade', 'quote', 'delta', 'book'], depth: 5 };
  const [max, paced] = [await text(n, body), await text(n, { ...body, speed: 1000 })];
  t.true(max.split('\n').length > INPUT.length);
  t.is(paced, max);
});

test('sessions are listed, paused, resumed and sought; a seek opens with the books of the new time', async (t) => {
  t.timeout(60_000);
  const n = await ingested(t);
  const res = await replay(n, { instruments: ['SYM001'], speed: 1 });
  const id = res.headers.get('x-replay-id')!;
  t.regex(id, /^[0-9a-f]{12}$/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  const nextLine = async (): Promise<Line> => {
    while (!buffered.includes('\n')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      buffered += decoder.decode(value, { stream: true });
    }
    const at = buffered.indexOf('\n');
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return JSON.parse(line);
  };
  const first = INPUT.find((e) => e.instrument === 'SYM001')!;
  t.like(await nextLine(), { kind: first.kind, tsEvent: first.tsEvent }, 'the first event (no book existed before it)');
  const list = (await (await fetch(n.url('/v1/md/replay'))).json()) as { sessions: Line[] };
  const listed = list.sessions.find((s) => s.id === id) as Line & { scheduleErrorMs: { p50: number; p99: number; max: number } | null };
  t.like(listed, { state: 'running', instruments: ['SYM001'], speed: 1 });
  t.true(listed.scheduleErrorMs !== null && listed.scheduleErrorMs.p99 >= 0 && listed.scheduleErrorMs.max >= listed.scheduleErrorMs.p99, 'the server\'s schedule error so far');
  const control = (action: string, body?: unknown) => fetch(n.url(`/v1/md/replay/${id}/${action}`), { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  t.like(await (await control('pause')).json(), { state: 'paused' });
  t.like(await (await control('resume')).json(), { state: 'running' });
  const at = T0 + 40_000_000_000n;
  const sought = await control('seek', { at: at.toString() });
  t.is(sought.status, 200);
  const progress = (await sought.json()) as { seq: string; marketTime: string };
  t.is(progress.marketTime, at.toString(), 'a sought session stands at the time sought');
  t.true(BigInt(progress.seq) > 0n, `its seq is the last written, not 0 (${progress.seq})`);
  // Lines already on their way may come first; then the opening book at `at`, then events from it.
  let line = await nextLine();
  while (!(line.kind === 'book' && BigInt(line.tsEvent) < at && (await nextIsFrom(line)))) line = await nextLine();
  async function nextIsFrom(book: Line): Promise<boolean> {
    const past = (await (await fetch(n.url(`/v1/md/books/SYM001?depth=10&at=${at - 1n}`))).json()) as Line;
    return book.seq === past.seq;
  }
  const after = await nextLine();
  t.true(BigInt(after.tsEvent) >= at, 'the next event is at or after the sought time');
  t.is((await fetch(n.url('/v1/md/replay/nope/pause'), { method: 'POST' })).status, 404);
  await reader.cancel();
  await pollUntil(async () => !((await (await fetch(n.url('/v1/md/replay'))).json()) as { sessions: Line[] }).sessions.some((s) => s.id === id), 'the session closes with its reader');
  t.pass();
});

test('binary frames carry the stored records; SSE lines carry ids and resume from Last-Event-ID', async (t) => {
  t.timeout(60_000);
  const n = await ingested(t);
  const body = { instruments: ['SYM003'], kinds: ['trade', 'quote', 'delta'] };
  const bin = Buffer.from(await (await replay(n, body, { accept: 'application/octet-stream' })).arrayBuffer());
  const frames: { type: number; payload: Buffer }[] = [];
  for (let at = 0; at < bin.length; ) {
    const len = bin.readUInt32LE(at + 1);
    frames.push({ type: bin[at], payload: bin.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  t.is(frames[0].type, 0);
  t.deepEqual(Object.values(JSON.parse(frames[0].payload.toString()).instruments), ['SYM003']);
  const records = frames.filter((f) => f.type === 1);
  t.is(records.length, INPUT.filter((e) => e.instrument === 'SYM003').length);
  t.true(records.every((r) => r.payload.length === 96));
  t.like(JSON.parse(frames[frames.length - 1].payload.toString()), { kind: 'done', events: records.length });
  const sse = await (await replay(n, body, { accept: 'text/event-stream' })).text();
  const blocks = sse.trimEnd().split('\n\n');
  t.regex(blocks[0], /^id: \d+\ndata: \{"kind":/);
  const resumeId = /^id: (\d+)/.exec(blocks[10])![1];
  const resumed = await (await replay(n, body, { accept: 'text/event-stream', 'last-event-id': resumeId })).text();
  t.deepEqual(resumed.trimEnd().split('\n\n').slice(0, -1), blocks.slice(11, -1));
});

test('bad replay requests are refused with a clear error before anything streams', async (t) => {
  const n = await ingested(t);
  const cases: [Record<string, unknown>, number, string][] = [
    [{ instruments: [] }, 400, 'invalid_body'],
    [{ instruments: ['NOPE'] }, 404, 'unknown_instrument'],
    [{ instruments: ['SYM001'], speed: 0 }, 400, 'invalid_body'],
    [{ instruments: ['SYM001'], speed: 'fast' }, 400, 'invalid_body'],
    [{ instruments: ['SYM001'], from: 'yesterday' }, 400, 'invalid_time'],
    [{ instruments: ['SYM001'], from: '2023-11-14T22:13:21Z', to: '2023-11-14T22:13:20Z' }, 400, 'invalid_time'],
    [{ instruments: ['SYM001'], kinds: ['book', 'nope'] }, 400, 'invalid_body'],
    [{ instruments: ['SYM001'], depth: 0 }, 400, 'invalid_depth'],
    [{ instruments: ['SYM001'], snapshotEvery: '0s' }, 400, 'invalid_time'],
  ];
  for (const [body, status, code] of cases) {
    const res = await replay(n, body);
    t.is(res.status, status, JSON.stringify(body));
    t.is(((await res.json()) as { error: { code: string } }).error.code, code, JSON.stringify(body));
  }
  // ISO-8601 with nanoseconds is exact: 1700000000.000000001 s is T0 + 1 ns (no event there yet).
  const iso = parse(await text(n, { instruments: ['SYM001'], kinds: ['trade'], from: '2023-11-14T22:13:20.000000001Z', to: '2023-11-14T22:13:20.000000002Z' }));
  t.deepEqual(iso, [{ kind: 'done', events: 0, snapshots: 0, seq: '0' }]);
});
