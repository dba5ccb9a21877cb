/**
 * The disk-space guard: a member below its reserve raises its alarm through the log and clears
 * it only with 1.25× the reserve free (also after a restart, from the replicated alarm); alarms
 * live in the membership record and leave with their member; while one is raised, only writes
 * that add data are refused.
 */
import test from 'ava';
import { type Command, Op } from '../../ts/node/commands';
import { applyAlarm, applyMemberChange, type MembersRecord } from '../../ts/node/membership';
import { addsData, SPACE_CHECK_TICKS, SPACE_RECLAIM_TICKS, SpaceGuard, type SpaceEvent } from '../../ts/node/space_guard';
import { ConfChangeType } from '../../ts/raft/types';

const MIB = 2 ** 20;
const RESERVE = 100 * MIB;

/** A guard of member 2 whose proposals apply at once to `rec` (unless `applies` is false). */
function harness(rec: MembersRecord = { confIndex: 0, voters: [1, 2, 3], learners: [], addresses: {} }) {
  const state = { rec, free: 1000 * MIB, applies: true, proposed: [] as string[], events: [] as SpaceEvent[], index: 10 };
  const guard = new SpaceGuard(
    { id: 2, dataDir: '/data', spaceReserveBytes: RESERVE, freeBytes: async () => state.free, onSpace: (e) => state.events.push(e) },
    () => state.rec,
    async (c: Omit<Command, 'origin' | 'seq'>) => {
      state.proposed.push(c.key);
      if (state.applies) state.rec = applyAlarm(state.rec, c.key, ++state.index);
    },
  );
  return { state, guard };
}

test('below the reserve a member raises its alarm; it clears only at 1.25x the reserve free', async (t) => {
  const { state, guard } = harness();
  await guard.check();
  t.deepEqual(state.proposed, [], 'nothing to say while above the reserve');
  state.free = 99 * MIB;
  await guard.check();
  t.deepEqual(state.proposed, [`2 raise ${99 * MIB} ${RESERVE}`]);
  t.deepEqual(state.rec.alarms, { '2': { freeBytes: 99 * MIB, reserveBytes: RESERVE, index: 11 } });
  t.true(guard.alarmed);
  state.free = 120 * MIB;
  await guard.check();
  t.is(state.proposed.length, 1, 'above the reserve but below 1.25x: still raised');
  state.free = 125 * MIB;
  await guard.check();
  t.deepEqual(state.proposed.slice(1), ['2 clear']);
  t.is(state.rec.alarms, undefined);
  t.false(guard.alarmed);
  t.deepEqual(state.events, [
    { low: false, freeBytes: 1000 * MIB, reserveBytes: RESERVE },
    { low: true, freeBytes: 99 * MIB, reserveBytes: RESERVE },
    { low: false, freeBytes: 125 * MIB, reserveBytes: RESERVE },
  ]);
});

test('a proposal that did not apply is made again at the next check; a restarted member keeps its raised alarm until 1.25x', async (t) => {
  const { state, guard } = harness();
  state.free = 10 * MIB;
  state.applies = false;
  await guard.check();
  await guard.check();
  t.is(state.proposed.length, 2, 'lost to a leader change: proposed again');
  // Restarted with its alarm raised in the record and 110 MiB free: no clear yet.
  const restarted = harness(applyAlarm(state.rec, `2 raise ${10 * MIB} ${RESERVE}`, 5));
  restarted.state.free = 110 * MIB;
  await restarted.guard.check();
  t.deepEqual(restarted.state.proposed, []);
  t.true(restarted.guard.alarmed);
});

test('tick reads every SPACE_CHECK_TICKS; a reserve of 0 never reads; a failed reading is reported', async (t) => {
  let reads = 0;
  const make = (reserve: number) => new SpaceGuard({ id: 1, dataDir: '/x', spaceReserveBytes: reserve, freeBytes: async () => (reads++, 1) }, () => ({ confIndex: 0, voters: [1], learners: [], addresses: {} }), async () => undefined);
  const off = make(0);
  for (let i = 1; i <= 3 * SPACE_CHECK_TICKS; i++) off.tick(i);
  t.is(reads, 0);
  const on = make(RESERVE);
  for (let i = 1; i <= 3 * SPACE_CHECK_TICKS; i++) {
    on.tick(i);
    // (A check still running when the next is due is skipped: let each finish.)
    if (i % SPACE_CHECK_TICKS === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  t.is(reads, 3);
  const events: SpaceEvent[] = [];
  const failing = new SpaceGuard({ id: 1, dataDir: '/x', spaceReserveBytes: RESERVE, freeBytes: async () => Promise.reject(new Error('EIO')), onSpace: (e) => events.push(e) }, () => ({ confIndex: 0, voters: [1], learners: [], addresses: {} }), async () => undefined);
  await failing.check();
  await failing.check();
  t.is(events.length, 1, 'reported once, not at every reading');
  t.like(events[0], { error: { message: 'EIO' } });
});

test('while below its reserve a member takes a snapshot every SPACE_RECLAIM_TICKS (the log it compacts is what frees space)', async (t) => {
  const disk = { free: 1000 * MIB };
  let reclaims = 0;
  const rec: MembersRecord = { confIndex: 0, voters: [1], learners: [], addresses: {} };
  const guard = new SpaceGuard({ id: 1, dataDir: '/x', spaceReserveBytes: RESERVE, freeBytes: async () => disk.free }, () => rec, async () => undefined, () => reclaims++);
  const run = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      guard.tick(i);
      if (i % SPACE_CHECK_TICKS === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(1, 2 * SPACE_RECLAIM_TICKS);
  t.is(reclaims, 0, 'not while there is space');
  disk.free = MIB;
  await run(2 * SPACE_RECLAIM_TICKS + 1, 4 * SPACE_RECLAIM_TICKS);
  t.is(reclaims, 2);
});

test('alarms live in the membership record: a non-member raises none, a removed member takes its own away', (t) => {
  const rec: MembersRecord = { confIndex: 0, voters: [1, 2, 3], learners: [], addresses: {} };
  t.is(applyAlarm(rec, '9 raise 1 2', 4), rec);
  const raised = applyAlarm(applyAlarm(rec, '2 raise 1 2', 4), '3 raise 5 6', 5);
  t.deepEqual(Object.keys(raised.alarms!), ['2', '3']);
  const removed = applyMemberChange(raised, { type: ConfChangeType.RemoveNode, nodeId: 2, origin: 1, seq: 1, peer: '', client: '' }, 6);
  t.deepEqual(removed.alarms, { '3': { freeBytes: 5, reserveBytes: 6, index: 5 } });
  t.is(applyMemberChange(applyAlarm(removed, '3 clear', 7), { type: ConfChangeType.AddNode, nodeId: 4, origin: 1, seq: 2, peer: 'h:1', client: '' }, 8).alarms, undefined);
  for (const bad of ['2', '2 raise 1', 'x clear', '2 clear 5', '2 lower 1 2']) t.throws(() => applyAlarm(rec, bad, 9), { code: 'COMMAND_INVALID' } as never, bad);
});

test('writes that add data are puts and increments (alone, in a txn or a batch) and market data; deletes and upkeep are not', (t) => {
  const put = { kind: 'put' as const, key: 'a', value: Buffer.from('1') };
  const del = { kind: 'delete' as const, key: 'a' };
  t.true(addsData({ op: Op.Put }));
  t.true(addsData({ op: Op.Incr }));
  t.true(addsData({ op: Op.MdIngest }));
  t.true(addsData({ op: Op.Txn, txn: { compare: [], success: [del], failure: [put] } }));
  t.false(addsData({ op: Op.Txn, txn: { compare: [], success: [del], failure: [{ kind: 'get', key: 'a' }] } }));
  t.true(addsData({ op: Op.Batch, items: [{ op: Op.Delete, key: 'a' }, { op: Op.Put, key: 'b' }] }));
  t.false(addsData({ op: Op.Batch, items: [{ op: Op.Delete, key: 'a' }, { op: Op.SetTtl, key: 'b' }] }));
  t.true(addsData({ op: Op.Batch, itemsRaw: Buffer.alloc(4) }));
  for (const op of [Op.Delete, Op.DeleteRange, Op.Expire, Op.SetTtl, Op.MdPurge, Op.Session, Op.Auth, Op.Publish, Op.Alarm]) t.false(addsData({ op }), Op[op]);
});
