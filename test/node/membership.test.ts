import test from 'ava';
import { applyMemberChange, decodeMemberChange, encodeMemberChange, initialRecord, type MemberChange } from '../../ts/node/membership';
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
  bad[0] = 9;
  t.throws(() => decodeMemberChange(bad), { message: /malformed membership change/ });
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
