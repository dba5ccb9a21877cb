/**
 * Keys with a TTL, in the state machine: a put's expiry is its entry's clock plus the TTL; an
 * Expire entry deletes what is due by its own clock (by expiry, then key, at most
 * EXPIRE_KEYS_MAX), with a delete for watchers; any later write of a key ends its TTL; the TTLs
 * are in the engine, so another applier on it (a restart) expires the same keys.
 */
import test from 'ava';
import { type ApplyResult, Applier } from '../../ts/node/applier';
import { type Command, decodeCommand, encodeCommand, Op } from '../../ts/node/commands';
import { KeyTtl, TTL_KEY_PREFIX, TTL_KEYS_MAX } from '../../ts/node/key_ttl';
import { initialRecord } from '../../ts/node/membership';
import { Engine, type EngineOp } from '../../ts/native';
import { EntryType } from '../../ts/raft/types';
import { tempDir } from '../helpers/tmp';
import { changeMatcher } from '../../ts/node/key_match';

type Cmd = Omit<Command, 'origin' | 'seq'>;

function harness(t: import('ava').ExecutionContext, engine: Engine, firstIndex = 0) {
  const answers: ApplyResult[] = [];
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), (results) => answers.push(...results.map((r) => r.result)), (err) => t.fail(err.message));
  const seen: string[] = [];
  applier.feed.watch(changeMatcher({ prefix: '' }), undefined, { send: (changes) => (changes.forEach((c) => seen.push(`${c.type} ${c.key}@${c.revision}`)), true), end: () => undefined });
  let index = firstIndex;
  const apply = async (commands: Cmd[]) => {
    applier.push(commands.map((c) => ({ index: ++index, term: 1, type: EntryType.Normal, data: encodeCommand({ ...c, origin: 1, seq: index }) })));
    await applier.idle();
    return answers.slice(-commands.length);
  };
  return { applier, answers, seen, apply, index: () => index };
}

const v = Buffer.from('1');
const ttlPut = (key: string, atMs: number, ttlMs: number): Cmd => ({ op: Op.Put, key, value: v, atMs, ttlMs });
const expire = (atMs: number): Cmd => ({ op: Op.Expire, key: '', atMs });

test('an Expire entry deletes the keys due by its clock; any later write of a key ends its TTL', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const { applier, seen, apply } = harness(t, engine);
  t.like((await apply([ttlPut('a', 1000, 500)]))[0], { kind: 'put', expiresAtMs: 1500 });
  await apply([
    ttlPut('b', 1000, 200), // 2: due at 1200
    ttlPut('c', 1000, 100), // 3
    { op: Op.Put, key: 'c', value: v }, // 4: written again without a TTL
    ttlPut('d', 1000, 100), // 5
    { op: Op.Delete, key: 'd' }, // 6
    ttlPut('e', 1000, 100), // 7
    { op: Op.Txn, key: '', txn: { compare: [], success: [{ kind: 'put', key: 'e', value: v }], failure: [] } }, // 8
    ttlPut('f', 1000, 100), // 9
    { op: Op.DeleteRange, key: 'f', limit: 10 }, // 10
  ]);
  t.is(applier.ttl.size, 2);
  t.deepEqual(await apply([expire(1100)]), [{ kind: 'expired', deleted: 0 }]);
  t.deepEqual(await apply([expire(1300)]), [{ kind: 'expired', deleted: 1 }]);
  t.is(seen.at(-1), 'delete b@12');
  t.deepEqual(await apply([expire(9999)]), [{ kind: 'expired', deleted: 1 }]);
  t.is(seen.at(-1), 'delete a@13');
  t.is(engine.get('a'), undefined);
  t.truthy(engine.get('c'));
  t.truthy(engine.get('e'));
  t.is(applier.ttl.size, 0);
  t.deepEqual((await engine.scan({ prefix: TTL_KEY_PREFIX, limit: 10 })).items, [], 'no TTL record is left');
});

test('the TTLs are in the engine: another applier on it (a restart) expires the same keys', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const first = harness(t, engine);
  await first.apply([ttlPut('x', 1000, 100), ttlPut('y', 1000, 5000)]);
  const again = harness(t, engine, first.index());
  await again.applier.loadState();
  t.is(again.applier.ttl.earliest(), 1100);
  t.deepEqual(await again.apply([expire(1200)]), [{ kind: 'expired', deleted: 1 }]);
  t.is(engine.get('x'), undefined);
  t.truthy(engine.get('y'));
});

test('due keys come by expiry, then key, at most the limit; earliest follows every change', (t) => {
  const ttl = new KeyTtl();
  const ops: EngineOp[] = [];
  for (const [key, at] of [['k3', 10], ['k1', 20], ['k2', 10], ['k0', 30]] as const) ttl.set(key, at, ops);
  t.deepEqual(ttl.due(25, 10), ['k2', 'k3', 'k1']);
  t.deepEqual(ttl.due(25, 2), ['k2', 'k3']);
  t.is(ttl.earliest(), 10);
  ttl.clear('k2', ops);
  ttl.clear('k3', ops);
  t.is(ttl.earliest(), 20);
  ttl.clear('nope', ops);
  t.is(ops.length, 6, 'a put per TTL set, a delete per TTL ended, nothing for a key without one');
});

test('TTL commands round-trip as version 4; a TTL without its time, or an expiry without one, is malformed', (t) => {
  const put: Command = { op: Op.Put, origin: 1, seq: 2, key: 'k', value: v, atMs: 5, ttlMs: 100 };
  const bytes = encodeCommand(put);
  t.is(bytes[0], 4);
  t.deepEqual(decodeCommand(bytes), { ...put, ifRevision: undefined });
  t.deepEqual(decodeCommand(encodeCommand({ op: Op.Expire, origin: 1, seq: 3, key: '', atMs: 7 })), { op: Op.Expire, origin: 1, seq: 3, key: '', atMs: 7 });
  t.throws(() => decodeCommand(encodeCommand({ op: Op.Put, origin: 1, seq: 2, key: 'k', value: v, ttlMs: 100 })), { code: 'COMMAND_INVALID' } as never);
  t.throws(() => decodeCommand(encodeCommand({ op: Op.Expire, origin: 1, seq: 3, key: '' })), { code: 'COMMAND_INVALID' } as never);
  const old = Buffer.from(bytes);
  old[0] = 3;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 3 command with a TTL/ } as never);
});

test(`a put with a TTL past TTL_KEYS_MAX is refused and applies nothing; a key that has one may renew it`, async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const { applier, apply } = harness(t, engine);
  for (let i = 0; i < TTL_KEYS_MAX; i += 10_000) await apply(Array.from({ length: 10_000 }, (_, j) => ttlPut(`t/${i + j}`, 1000, 60_000)));
  t.is(applier.ttl.size, TTL_KEYS_MAX);
  const [refused, renewed] = await apply([ttlPut('one-more', 1000, 100), ttlPut('t/0', 2000, 100)]);
  t.like(refused, { kind: 'refused', code: 'too_many_ttl_keys' });
  t.like(renewed, { kind: 'put', expiresAtMs: 2100 });
  t.is(engine.get('one-more'), undefined);
  t.is(applier.ttl.earliest(), 2100);
});

test('a renewed or ended TTL leaves no due entry behind; insertion order does not change the choice', (t) => {
  const ops: EngineOp[] = [];
  const a = new KeyTtl();
  a.set('k', 10, ops);
  a.set('k', 30, ops); // renewed later
  a.set('j', 10, ops);
  a.set('j', 5, ops); // renewed earlier
  a.set('j', 10, ops); // and back
  a.set('gone', 1, ops);
  a.clear('gone', ops);
  t.is(a.earliest(), 10);
  t.deepEqual(a.due(20, 10), ['j']);
  t.deepEqual(a.due(20, 10), ['j'], 'due again until its TTL ends');
  a.clear('j', ops);
  t.deepEqual(a.due(20, 10), []);
  t.is(a.earliest(), 30);
  const keys = Array.from({ length: 500 }, (_, i) => [`k${i}`, 100 + (i % 7)] as const);
  const b = new KeyTtl();
  const c = new KeyTtl();
  for (const [key, at] of keys) b.set(key, at, ops);
  for (const [key, at] of [...keys].reverse()) c.set(key, at, ops);
  t.deepEqual(b.due(103, 50), c.due(103, 50));
  t.deepEqual(b.due(103, 50).slice(0, 3), ['k0', 'k105', 'k112'], 'the earliest expiry first, then by key');
});

test('batch items carry TTLs from the batch\'s clock; such a batch is version 4 and needs its time', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const { apply } = harness(t, engine);
  const items = [{ op: Op.Put as const, key: 'i1', value: v, ttlMs: 100 }, { op: Op.Put as const, key: 'i2', value: v }];
  const [batch] = await apply([{ op: Op.Batch, key: '', items, atMs: 1000 }]);
  t.deepEqual(batch, { kind: 'batch', results: [{ kind: 'put', revision: 1, expiresAtMs: 1100 }, { kind: 'put', revision: 1 }] });
  t.deepEqual(await apply([expire(1100)]), [{ kind: 'expired', deleted: 1 }]);
  t.is(engine.get('i1'), undefined);
  t.truthy(engine.get('i2'));
  const bytes = encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', items, atMs: 5 });
  t.is(bytes[0], 4);
  t.is(decodeCommand(bytes).items![0].ttlMs, 100);
  t.throws(() => decodeCommand(encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', items })), { code: 'COMMAND_INVALID', message: /without its time/ } as never);
});

test('a txn put may carry a TTL from the txn\'s clock; such a txn is version 4', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const { apply } = harness(t, engine);
  const txn = { compare: [{ key: 'lock', exists: false }], success: [{ kind: 'put' as const, key: 'lock', value: v, ttlMs: 50 }, { kind: 'put' as const, key: 'data', value: v }], failure: [] };
  const [answer] = await apply([{ op: Op.Txn, key: '', txn, atMs: 1000 }]);
  t.like(answer, { kind: 'txn', succeeded: true, results: [{ op: 'put', key: 'lock', expiresAtMs: 1050 }, { op: 'put', key: 'data' }] });
  t.deepEqual(await apply([expire(1050)]), [{ kind: 'expired', deleted: 1 }]);
  t.is(engine.get('lock'), undefined);
  t.truthy(engine.get('data'));
  const bytes = encodeCommand({ op: Op.Txn, origin: 1, seq: 1, key: '', txn, atMs: 5 });
  t.is(bytes[0], 4);
  t.deepEqual(decodeCommand(bytes).txn, txn);
  t.throws(() => decodeCommand(encodeCommand({ op: Op.Txn, origin: 1, seq: 1, key: '', txn })), { code: 'COMMAND_INVALID' } as never);
});
