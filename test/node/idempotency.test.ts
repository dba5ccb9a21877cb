/**
 * Exactly-once writes in the state machine, on a real engine: a retry gets the first answer and
 * applies nothing; a key reused for another write, an unknown session and a dropped session key
 * are refused; keys and sessions expire by the entries' clock (not a replica's) and by count,
 * and a node that reloads the table from its engine drops exactly what one that never stopped
 * drops.
 */
import test, { type ExecutionContext } from 'ava';
import { type ApplyResult, Applier } from '../../ts/node/applier';
import { type Command, encodeCommand, Op } from '../../ts/node/commands';
import { IdempotencyTable, type IdempotencyLimits } from '../../ts/node/idempotency';
import { initialRecord } from '../../ts/node/membership';
import { Engine, type EngineOp } from '../../ts/native';
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

test('a reloaded table drops the same keys as one that never stopped (ties in time included)', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const limits: IdempotencyLimits = { keyTtlMs: 60_000, keysMax: 3, sessionIdleMs: 60_000, sessionsMax: 10 };
  const live = new IdempotencyTable(limits);
  let index = 0;
  const write = async (table: IdempotencyTable, keys: string[]) => {
    const ops: EngineOp[] = [];
    index++;
    table.advance(500, ops);
    keys.forEach((k, i) => table.remember(k, k, { kind: 'put', revision: index }, index, i, ops));
    table.finishBatch(ops);
    await engine.apply(ops, index);
  };
  // Same time for all: only their order in the log tells which is oldest (z before a).
  await write(live, ['z', 'a', 'm']);
  const reloaded = new IdempotencyTable(limits);
  await reloaded.load(engine);
  t.deepEqual(reloaded.size, live.size);
  // One more key: each table must drop 'z', the first applied (not 'a', the first by name).
  const opsLive: EngineOp[] = [];
  live.remember('b', 'b', { kind: 'put', revision: 9 }, 9, 0, opsLive);
  const opsReloaded: EngineOp[] = [];
  reloaded.remember('b', 'b', { kind: 'put', revision: 9 }, 9, 0, opsReloaded);
  t.deepEqual(opsReloaded, opsLive);
  t.true(opsLive.some((op) => op.op === 'delete' && op.key === '\u0000idem/k/z'));
});
