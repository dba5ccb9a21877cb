/**
 * Exactly-once writes in the state machine, on a real engine: a retry gets the first answer and
 * applies nothing; a key reused for another write, an unknown session and a dropped session key
 * are refused; keys and sessions expire by the entries' clock (not a replica's) and by count,
 * and a node that reloads the table from its engine drops exactly what one that never stopped
 * drops.
 */
import test, { type ExecutionContext } from 'ava';
import { type ApplyResult, Applier } from '../../ts/node/applier';
import { type Command, decodeCommand, encodeCommand, itemBytes, Op } from '../../ts/node/commands';
import { fingerprint, printBytes } from '../../ts/node/fingerprint';
import { IdempotencyTable, type IdempotencyLimits } from '../../ts/node/idempotency';
import { initialRecord } from '../../ts/node/membership';
import { Engine, type EngineOp } from '../../ts/native';
import { mulberry32 } from '../../ts/raft/random';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';

/** An applier on a fresh engine; `apply` runs commands as the next entries and returns their answers. */
function harness(t: ExecutionContext) {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const answers: ApplyResult[] = [];
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), (results) => answers.push(...results.map((r) => r.result)), (err) => t.fail(err.message));
  let index = 0;
  const apply = async (...commands: Omit<Command, 'origin' | 'seq'>[]): Promise<ApplyResult[]> => {
    const from = answers.length;
    applier.push(commands.map((c) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand({ ...c, origin: 1, seq: index }) })));
    await applier.idle();
    return answers.slice(from);
  };
  const value = (key: string) => engine.get(key)?.subarray(8).toString();
  return { engine, applier, apply, value };
}

const put = (key: string, value: string, idem?: string, atMs = 1000): Omit<Command, 'origin' | 'seq'> => ({ op: Op.Put, key, value: Buffer.from(value), idem, atMs: idem ? atMs : undefined });

test('a retry of an applied write gets its first answer and applies nothing', async (t) => {
  const h = harness(t);
  const [first] = await h.apply(put('a', '1', 'k1'));
  t.deepEqual(first, { kind: 'put', revision: 1 });
  await h.apply(put('a', '2'));
  // The same write again, in the same batch as another retry of it, and later alone.
  const [again, twice] = await h.apply(put('a', '1', 'k1'), put('a', '1', 'k1'));
  t.deepEqual(again, { kind: 'put', revision: 1, replayed: true });
  t.deepEqual(twice, { kind: 'put', revision: 1, replayed: true });
  t.is(h.value('a'), '2', 'the retry did not overwrite the later write');
  const [reused] = await h.apply(put('a', '3', 'k1'));
  t.is(reused.kind, 'refused');
  t.is((reused as { code: string }).code, 'idempotency_key_reused');
  t.is(h.value('a'), '2');
});

test('a conditional write that failed is answered with its failure again (not re-evaluated)', async (t) => {
  const h = harness(t);
  await h.apply(put('a', '1'));
  const cas = { op: Op.Put, key: 'a', value: Buffer.from('9'), ifRevision: 7, idem: 'cas', atMs: 1 } as const;
  t.deepEqual((await h.apply(cas))[0], { kind: 'mismatch', currentRevision: 1 });
  await h.apply({ op: Op.Put, key: 'a', value: Buffer.from('5') }, { op: Op.Put, key: 'b', value: Buffer.from('0') });
  t.deepEqual((await h.apply(cas))[0], { kind: 'mismatch', currentRevision: 1, replayed: true });
});

test('batch items are independent; each carries its own key', async (t) => {
  const h = harness(t);
  const [opened] = await h.apply({ op: Op.Session, key: '', atMs: 10 });
  t.deepEqual(opened, { kind: 'session', session: 's1' });
  const items = [
    { op: Op.Put, key: 'x', value: Buffer.from('1'), idem: 's1:1' },
    { op: Op.Put, key: 'y', value: Buffer.from('2'), ifRevision: 99, idem: 's1:2' },
    { op: Op.Delete, key: 'x', idem: 's7:1' },
  ] as const;
  const [first] = await h.apply({ op: Op.Batch, key: '', atMs: 11, items: [...items] });
  t.like(first, { kind: 'batch', results: [{ kind: 'put', revision: 2 }, { kind: 'mismatch', currentRevision: 0 }, { kind: 'refused', code: 'session_expired' }] });
  const [retry] = await h.apply({ op: Op.Batch, key: '', atMs: 12, items: [...items] });
  t.like(retry, { kind: 'batch', results: [{ kind: 'put', revision: 2, replayed: true }, { kind: 'mismatch', replayed: true }, { kind: 'refused' }] });
  t.is(h.value('x'), '1');
});

test('a batch with one key: a retry gets every item\'s first answer and applies nothing; the key on another batch is refused', async (t) => {
  const h = harness(t);
  const [opened] = await h.apply({ op: Op.Session, key: '', atMs: 10 });
  t.deepEqual(opened, { kind: 'session', session: 's1' });
  const items = [
    { op: Op.Put, key: 'x', value: Buffer.from('1') },
    { op: Op.Put, key: 'y', value: Buffer.from('2'), ifRevision: 99 },
    { op: Op.Delete, key: 'z' },
  ] as const;
  const keyed: Omit<Command, 'origin' | 'seq'> = { op: Op.Batch, key: '', atMs: 11, idem: 's1:1', items: [...items] };
  const [first] = await h.apply(keyed);
  t.deepEqual(first, { kind: 'batch', results: [{ kind: 'put', revision: 2 }, { kind: 'mismatch', currentRevision: 0 }, { kind: 'delete', deleted: false, revision: 2 }] });
  await h.apply(put('x', '5'));
  // Again in one batch of entries with a second retry, then alone: the first answer, unchanged state.
  const [again, twice] = await h.apply(keyed, keyed);
  t.deepEqual(again, { ...(first as object), replayed: true });
  t.deepEqual(twice, { ...(first as object), replayed: true });
  t.is(h.value('x'), '5', 'the retry did not overwrite the later write');
  const [reused] = await h.apply({ ...keyed, items: [items[0]] });
  t.like(reused, { kind: 'refused', code: 'idempotency_key_reused' });
  const [unknown] = await h.apply({ ...keyed, idem: 's99:1' });
  t.like(unknown, { kind: 'refused', code: 'session_expired' });
  t.is(h.value('x'), '5');
  // The next key of the session is new; its batch applies. Its record keeps equal answers as one run.
  const puts = ['p', 'q', 'r'].map((key) => ({ op: Op.Put, key, value: Buffer.from('1') }) as const);
  const [next] = await h.apply({ ...keyed, idem: 's1:2', items: puts });
  t.deepEqual(next, { kind: 'batch', results: [1, 2, 3].map(() => ({ kind: 'put', revision: 8 })) });
  t.like(JSON.parse(h.engine.get(`\u0000idem/g/${'8'.padStart(16, '0')}`)!.toString()), { k: ['s1:2'], r: [{ kind: 'batch', runs: [[3, { kind: 'put', revision: 8 }]] }] });
  t.deepEqual((await h.apply({ ...keyed, idem: 's1:2', items: puts }))[0], { ...(next as object), replayed: true });
});

test('keys expire by the entries\' clock; a dropped session key is refused, an idle session expires', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const limits: IdempotencyLimits = { keyTtlMs: 1000, keysMax: 100, sessionIdleMs: 5000, sessionsMax: 10 };
  const table = new IdempotencyTable(limits);
  let index = 0;
  const step = async (atMs: number, act: (ops: EngineOp[]) => void) => {
    const ops: EngineOp[] = [];
    table.advance(atMs, ops);
    act(ops);
    table.finishBatch(ops);
    await engine.apply(ops, ++index);
  };
  let session = '';
  await step(0, (ops) => (session = table.openSession(index + 1, ops)));
  await step(100, (ops) => table.remember(`${session}:1`, 'p', { kind: 'put', revision: 2 }, index + 1, 0, ops));
  t.is(table.gate(`${session}:1`, 'p', engine).kind, 'replay');
  // A clock going backwards (another leader's clock) does not move the state machine's clock back.
  await step(50, () => undefined);
  t.is(table.clock, 100);
  await step(1200, () => undefined);
  t.like(table.gate(`${session}:1`, 'p', engine), { kind: 'refused', code: 'idempotency_key_expired' });
  t.is(table.gate(`${session}:2`, 'q', engine).kind, 'new', 'a later seq of the session is a new write');
  await step(6000, () => undefined);
  t.like(table.gate(`${session}:2`, 'q', engine), { kind: 'refused', code: 'session_expired' });
  t.is(table.gate('opaque', 'q', engine).kind, 'new');
});

/** A table on its own engine, fed whole entries (`keys` remembered at `atMs`), each as one batch. */
function tableHarness(t: ExecutionContext, limits: IdempotencyLimits) {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  let index = 10; // (entries from 11: a test writes earlier state below that)
  const entry = async (table: IdempotencyTable, keys: string[], atMs = 500): Promise<EngineOp[]> => {
    const ops: EngineOp[] = [];
    index++;
    table.advance(atMs, ops);
    keys.forEach((k, i) => table.remember(k, `print-${k}`, { kind: 'put', revision: index }, index, i, ops));
    table.finishBatch(ops);
    await engine.apply(ops, index);
    return ops;
  };
  const reload = async () => {
    const table = new IdempotencyTable(limits);
    await table.load(engine);
    return table;
  };
  const records = async () => (await engine.scan({ prefix: '\u0000idem/g/', limit: 100 })).items.map((kv) => kv.key.toString());
  return { engine, entry, reload, records };
}

/** What `table` answers for each key (replay, refused or new). */
const verdicts = (table: IdempotencyTable, keys: string[], engine: Engine) => keys.map((k) => table.gate(k, `print-${k}`, engine).kind);

test('a reloaded table drops the same keys as one that never stopped (ties in time included)', async (t) => {
  const limits: IdempotencyLimits = { keyTtlMs: 60_000, keysMax: 3, sessionIdleMs: 60_000, sessionsMax: 10 };
  const h = tableHarness(t, limits);
  const live = new IdempotencyTable(limits);
  // Same time for all: only their order in the log tells which is oldest (z before a).
  await h.entry(live, ['z', 'a', 'm']);
  const reloaded = await h.reload();
  t.deepEqual(reloaded.size, live.size);
  // One more key: each table must drop 'z', the first applied (not 'a', the first by name).
  const opsLive: EngineOp[] = [];
  live.remember('b', 'print-b', { kind: 'put', revision: 9 }, 9, 0, opsLive);
  const opsReloaded: EngineOp[] = [];
  reloaded.remember('b', 'print-b', { kind: 'put', revision: 9 }, 9, 0, opsReloaded);
  t.deepEqual(opsReloaded, opsLive);
  t.deepEqual(verdicts(live, ['z', 'a', 'm', 'b'], h.engine), ['new', 'replay', 'replay', 'replay']);
  t.deepEqual(verdicts(reloaded, ['z', 'a', 'm', 'b'], h.engine), ['new', 'replay', 'replay', 'replay']);
});

test('one record per entry: kept whole while any of its keys is, deleted with the last', async (t) => {
  const limits: IdempotencyLimits = { keyTtlMs: 60_000, keysMax: 4, sessionIdleMs: 60_000, sessionsMax: 10 };
  const h = tableHarness(t, limits);
  const live = new IdempotencyTable(limits);
  await h.entry(live, ['a1', 'a2', 'a3']);
  await h.entry(live, ['b1', 'b2']); // drops a1 by count: the first entry's record stays
  t.is((await h.records()).length, 2);
  // A node restarted here (a partly dropped entry) drops the same key again, and then the same ones.
  const reloaded = await h.reload();
  const keys = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2'];
  t.deepEqual(verdicts(reloaded, keys, h.engine), verdicts(live, keys, h.engine));
  const third = await h.entry(live, ['c1', 'c2']); // drops a2, a3: the first record goes
  const thirdReloaded: EngineOp[] = [];
  reloaded.advance(500, thirdReloaded);
  ['c1', 'c2'].forEach((k, i) => reloaded.remember(k, `print-${k}`, { kind: 'put', revision: 13 }, 13, i, thirdReloaded));
  reloaded.finishBatch(thirdReloaded);
  t.deepEqual(thirdReloaded, third);
  t.true(third.some((op) => op.op === 'delete' && op.key === `\u0000idem/g/${'11'.padStart(16, '0')}`));
  t.is((await h.records()).length, 2);
  t.deepEqual(verdicts(live, keys, h.engine), ['new', 'new', 'new', 'replay', 'replay', 'replay', 'replay']);
  // Past the TTL every record goes, by the entries' clock.
  await h.entry(live, [], 500 + 60_001);
  t.deepEqual(await h.records(), []);
  t.deepEqual(live.size.keys, 0);
});

test('a retried batch is answered from its entry\'s record, key by key, after a reload too', async (t) => {
  const limits: IdempotencyLimits = { keyTtlMs: 60_000, keysMax: 10_000, sessionIdleMs: 60_000, sessionsMax: 10 };
  const h = tableHarness(t, limits);
  const keys = Array.from({ length: 1000 }, (_, i) => `op-${i}`);
  await h.entry(new IdempotencyTable(limits), keys);
  const reloaded = await h.reload();
  const answers = keys.map((k) => reloaded.gate(k, `print-${k}`, h.engine));
  t.true(answers.every((a) => a.kind === 'replay' && (a.result as { revision: number }).revision === 11));
  t.like(reloaded.gate('op-7', 'another write', h.engine), { kind: 'refused', code: 'idempotency_key_reused' });
});

test('keys applied out of seq order, mixed with opaque ones reused after they were dropped: every node answers as a model does', async (t) => {
  // keysMax 5: keys drop by count all along, and most probes of the session's keys are below
  // the highest seq it applied (the filter that skips lookups must not skip these).
  const limits: IdempotencyLimits = { keyTtlMs: 60_000, keysMax: 5, sessionIdleMs: 60_000, sessionsMax: 10 };
  const h = tableHarness(t, limits);
  const live = new IdempotencyTable(limits);
  const opened: EngineOp[] = [];
  const session = live.openSession(5, opened);
  live.finishBatch(opened);
  await h.engine.apply(opened, 5);
  const rnd = mulberry32(7);
  const seqs = Array.from({ length: 60 }, (_, i) => i + 1).sort(() => rnd.next() - 0.5);
  const applied: string[] = [];
  let evicted = 0; // the model's highest dropped seq
  const verdict = (k: string): string => {
    if (applied.slice(-limits.keysMax).includes(k)) return 'replay';
    if (!k.startsWith(`${session}:`)) return 'new';
    return Number(k.split(':')[1]) <= evicted ? 'refused' : 'new';
  };
  const probe = [...Array.from({ length: 62 }, (_, i) => `${session}:${i + 1}`), 'x0', 'x1', 'x2', 'x3'];
  for (let at = 0; at < seqs.length; ) {
    const keys: string[] = [];
    for (let n = 1 + Math.floor(rnd.next() * 3); n > 0 && at < seqs.length; n--) keys.push(`${session}:${seqs[at++]}`);
    // An opaque key now and then, one of a few (so some are applied again once dropped).
    const opaque = `x${Math.floor(rnd.next() * 4)}`;
    if (rnd.next() < 0.4 && verdict(opaque) === 'new') keys.push(opaque);
    await h.entry(live, keys);
    applied.push(...keys);
    for (const k of applied.slice(0, -limits.keysMax)) if (k.startsWith(`${session}:`)) evicted = Math.max(evicted, Number(k.split(':')[1]));
    const expected = probe.map(verdict);
    t.deepEqual(verdicts(live, probe, h.engine), expected);
    t.deepEqual(verdicts(await h.reload(), probe, h.engine), expected, 'a node that reloads answers alike');
  }
});

test('a per-key record of an earlier version is still honoured, and deleted when dropped', async (t) => {
  const limits: IdempotencyLimits = { keyTtlMs: 1000, keysMax: 100, sessionIdleMs: 60_000, sessionsMax: 10 };
  const h = tableHarness(t, limits);
  const legacy = '\u0000idem/k/old-key';
  await h.engine.apply([{ op: 'put', key: legacy, value: Buffer.from(JSON.stringify({ t: 400, o: 3 * 65536, f: 'an-old-print', r: { kind: 'put', revision: 3 } })) }], 3);
  const table = await h.reload();
  t.like(table.gate('old-key', 'an-old-print', h.engine), { kind: 'replay', result: { kind: 'put', revision: 3 } });
  t.is(table.gate('old-key', 'print-old-key', h.engine).kind, 'refused', 'never applied a second time');
  const ops = await h.entry(table, ['new-key'], 1500);
  t.true(ops.some((op) => op.op === 'delete' && op.key === legacy));
  t.is(table.gate('old-key', 'an-old-print', h.engine).kind, 'new');
});

test('fingerprints: txn parts are told apart; a single write and a batch item of it print alike', (t) => {
  t.not(fingerprint(['ab', 'c']), fingerprint(['a', 'bc']));
  t.not(fingerprint([1]), fingerprint(['1']));
  t.not(fingerprint([undefined]), fingerprint(['']));
  t.not(fingerprint([Buffer.from('x')]), fingerprint(['x']));
  const item = { op: Op.Put, key: 'order/1', value: Buffer.from('{"qty":100}'), ifRevision: 7, idem: 's1:1' } as const;
  const [decoded] = decodeCommand(encodeCommand({ op: Op.Batch, key: '', origin: 1, seq: 1, items: [item] })).items!;
  t.deepEqual(decoded.raw, itemBytes(item), 'the bytes in the entry are the single write\'s encoding');
  t.not(printBytes(itemBytes(item)), printBytes(itemBytes({ ...item, ifRevision: 8 })));
  t.not(printBytes(itemBytes(item)), printBytes(itemBytes({ ...item, value: Buffer.from('{"qty":101}') })));
  // Part of the replicated state: a change here is a change of the state machine.
  t.is(printBytes(itemBytes(item)), 'AtBwJ1WLjXXydYojLwKssl');
});
