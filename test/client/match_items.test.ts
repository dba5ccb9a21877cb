/** A multi-get answer's items matched to the keys asked (absent keys, repeats, any order). */
import test from 'ava';
import { answerItems, matchItems } from '../../ts/client/multiget_answer';

const kv = (key: string, revision = 1) => ({ key, value: key.toUpperCase(), revision });

test('in the order asked: absent keys are undefined, a repeated key gets its item each time', (t) => {
  t.deepEqual(matchItems(['a', 'b', 'a', 'c'], [kv('a'), kv('a'), kv('c')]), [kv('a'), undefined, kv('a'), kv('c')]);
  t.deepEqual(matchItems(['x', 'y'], []), [undefined, undefined]);
});

test('in another order: still each key its own item', (t) => {
  t.deepEqual(matchItems(['a', 'b', 'c'], [kv('c', 3), kv('a', 1)]), [kv('a', 1), undefined, kv('c', 3)]);
});

test('positional (one item per key, null where absent): each key gets the item at its place', (t) => {
  const at = (key: string, revision = 1) => ({ value: key.toUpperCase(), revision });
  t.deepEqual(matchItems(['a', 'b', 'a'], [at('a'), null, at('a', 2)]), [kv('a'), undefined, kv('a', 2)]);
  t.deepEqual(matchItems([], []), []);
  // A member answering keyed with every key found: the same answer.
  t.deepEqual(matchItems(['a', 'c'], [kv('a'), kv('c', 3)]), [kv('a'), kv('c', 3)]);
});

test('columns: each key gets the value at its place, absent where its revision is null (a stored null is a value)', (t) => {
  t.deepEqual(answerItems(['a', 'b', 'a', 'n'], { values: ['A', null, 'A', null], revisions: [1, null, 2, 5] }), [kv('a'), undefined, kv('a', 2), { key: 'n', value: null, revision: 5 }]);
  t.deepEqual(answerItems(['a'], { items: [kv('a')] }), [kv('a')], 'a member answering items instead');
  t.throws(() => answerItems(['a', 'b'], { values: ['A'], revisions: [1] }), { message: /2 keys was answered with 1 values/ });
});
