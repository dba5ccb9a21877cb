import test from 'ava';
import { applyMemberChange, checkMemberChange, decodeMemberChange, encodeMemberChange, initialRecord, type MemberChange, REMOVED_REMEMBERED_MAX } from '../../ts/node/membership';
import { ConfChangeType } from '../../ts/raft/types';

const change = (type: ConfChangeType, nodeId: number, peer = '', client = ''): MemberChange => ({ type, nodeId, origin: 3, seq: 2 ** 40 + 7, peer, client });

test('membership changes round-trip through their binary form; truncations are COMMAND_INVALID', (t) => {
  const c = change(ConfChangeType.AddLearnerNode, 2 ** 32 - 1, '10.0.0.9:7104', 'höst:7004');
  const bytes = encodeMemberChange(c);
  t.deepEqual(decodeMemberChange(bytes), c);
  for (let n = 0; n < bytes.length; n++) {
    t.is(t.throws(() => decodeMemberChange(bytes.subarray(0, n)))?.name, 'QuorumError', `truncated at ${n}`);
  }
  const bad = Buffer.from(bytes);
  bad[1] = 9;
  t.throws(() => decodeMemberChange(bad), { code: 'COMMAND_INVALID', message: /unknown type 9/ } as never);
});

test('the record follows the same transitions as the core: add learner, promote, re-add, remove', (t) => {
  let rec = initialRecord({ voters: [3, 1, 2], learners: [] });
  t.deepEqual(rec.voters, [1, 2, 3]);
  rec = applyMemberChange(rec, change(ConfChangeType.AddLearnerNode, 4, 'h:1', 'h:2'), 10);
  t.deepEqual([rec.voters, rec.learners, rec.confIndex], [[1, 2, 3], [4], 10]);
  t.deepEqual(rec.addresses['4'], { peer: 'h:1', client: 'h:2' });
  // Promotion: AddNode of a learner; its addresses are kept.
  rec = applyMemberChange(rec, change(ConfChangeType.AddNode, 4), 11);
  t.deepEqual([rec.voters, rec.learners], [[1, 2, 3, 4], []]);
  t.deepEqual(rec.addresses['4'], { peer: 'h:1', client: 'h:2' });
  // Adding a voter as a learner changes nothing; removing a non-member changes nothing.
  const same = applyMemberChange(rec, change(ConfChangeType.AddLearnerNode, 2), 12);
  t.deepEqual([same.voters, same.learners], [rec.voters, rec.learners]);
  rec = applyMemberChange(rec, change(ConfChangeType.RemoveNode, 9), 13);
  t.deepEqual(rec.voters, [1, 2, 3, 4]);
  rec = applyMemberChange(rec, change(ConfChangeType.RemoveNode, 4), 14);
  t.deepEqual([rec.voters, rec.learners, rec.addresses['4'], rec.confIndex], [[1, 2, 3], [], undefined, 14]);
});

test('the record remembers removals (index and peer address) until the id is added again', (t) => {
  let rec = initialRecord({ voters: [1, 2, 3], learners: [] });
  rec = applyMemberChange(rec, change(ConfChangeType.AddLearnerNode, 4, 'h:4'), 10);
  rec = applyMemberChange(rec, change(ConfChangeType.RemoveNode, 4), 11);
  t.deepEqual(rec.removed?.['4'], { index: 11, peer: 'h:4' });
  rec = applyMemberChange(rec, change(ConfChangeType.RemoveNode, 3), 12);
  t.deepEqual(rec.removed?.['3'], { index: 12, peer: undefined });
  rec = applyMemberChange(rec, change(ConfChangeType.AddLearnerNode, 4, 'h:44'), 13);
  t.false('4' in (rec.removed ?? {}), 'added again: no longer removed');
  // Removing a non-member records nothing.
  t.false('99' in (applyMemberChange(rec, change(ConfChangeType.RemoveNode, 99), 14).removed ?? {}));
});

test('at most REMOVED_REMEMBERED_MAX removals are remembered, the oldest forgotten first', (t) => {
  let rec = initialRecord({ voters: [1], learners: [] });
  for (let id = 2; id < REMOVED_REMEMBERED_MAX + 12; id++) {
    rec = applyMemberChange(rec, change(ConfChangeType.AddLearnerNode, id, 'h:1'), 2 * id);
    rec = applyMemberChange(rec, change(ConfChangeType.RemoveNode, id), 2 * id + 1);
  }
  t.is(Object.keys(rec.removed!).length, REMOVED_REMEMBERED_MAX);
  t.false('2' in rec.removed!);
  t.truthy(rec.removed![String(REMOVED_REMEMBERED_MAX + 11)]);
});

test('membership requests are checked in one place, each refusal with its code', (t) => {
  const rec = { ...initialRecord({ voters: [1, 2], learners: [3] }) };
  const code = (f: () => unknown) => (t.throws(f) as { code?: string }).code;
  t.is(code(() => checkMemberChange(rec, 'add-voter', 2, 'h:1')), 'member_exists');
  t.is(code(() => checkMemberChange(rec, 'add-learner', 3, 'h:1')), 'member_exists');
  t.is(code(() => checkMemberChange(rec, 'add-voter', 9)), 'invalid_body');
  t.is(code(() => checkMemberChange(rec, 'promote', 1)), 'not_learner');
  t.is(code(() => checkMemberChange(rec, 'promote', 9)), 'unknown_member');
  t.is(code(() => checkMemberChange(rec, 'remove', 9)), 'unknown_member');
  t.is(code(() => checkMemberChange({ ...rec, voters: [1] }, 'remove', 1)), 'last_voter');
  t.is(checkMemberChange(rec, 'promote', 3), ConfChangeType.AddNode);
  t.is(checkMemberChange(rec, 'add-learner', 9, 'h:9'), ConfChangeType.AddLearnerNode);
  t.is(checkMemberChange(rec, 'remove', 3), ConfChangeType.RemoveNode);
});
