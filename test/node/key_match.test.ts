/**
 * A watch's key selectors: one key, a prefix, `[start, end)` in UTF-8 byte order (the engine's,
 * which JavaScript's string order is not past U+FFFF), and the put/delete filter.
 */
import test from 'ava';
import type { KvChange } from '../../ts/node/change_feed';
import { changeMatcher, compareUtf8 } from '../../ts/node/key_match';
import { seededRandom } from '../helpers/random';

/** Characters where UTF-16 and UTF-8 orders part: ASCII, U+E000–FFFF, and past U+FFFF (surrogate pairs). */
const ALPHABET = ['a', 'b', '\u00e9', '\ud7ff', '\ue000', '\uff76', '\uffff', '\u{10000}', '\u{1f600}'];

test('compareUtf8 orders strings as their UTF-8 bytes do', (t) => {
  const seed = 20261203;
  const random = seededRandom(seed);
  const word = () => Array.from({ length: Math.floor(random() * 4) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('');
  for (let i = 0; i < 5000; i++) {
    const a = word();
    const b = word();
    t.is(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `seed ${seed}: ${JSON.stringify([a, b])}`);
  }
  // The case JavaScript's own order gets wrong: U+1F600 (a surrogate pair) sorts after U+FF76.
  t.true('\u{1f600}' < '\uff76');
  t.true(compareUtf8('\u{1f600}', '\uff76') > 0);
});

const put = (key: string): KvChange => ({ revision: 1, type: 'put', key, value: Buffer.from('1') });
const del = (key: string): KvChange => ({ revision: 1, type: 'delete', key });

test('a selector follows one key, a prefix, or [start, end); types filter puts or deletes', (t) => {
  const keys = ['lock', 'lock/1', 'lock2', 'm', '\uff76', '\u{1f600}'];
  const followed = (m: (c: KvChange) => boolean) => keys.filter((k) => m(put(k)));
  t.deepEqual(followed(changeMatcher({ key: 'lock' })), ['lock']);
  t.deepEqual(followed(changeMatcher({ prefix: 'lock' })), ['lock', 'lock/1', 'lock2']);
  t.deepEqual(followed(changeMatcher({ prefix: '' })), keys);
  t.deepEqual(followed(changeMatcher({ start: 'lock/', end: 'm' })), ['lock/1', 'lock2']);
  t.deepEqual(followed(changeMatcher({ start: 'm' })), ['m', '\uff76', '\u{1f600}']);
  t.deepEqual(followed(changeMatcher({ start: '\uff76', end: '\u{1f600}' })), ['\uff76'], 'the end is exclusive, in byte order');
  const deletes = changeMatcher({ prefix: 'lock' }, new Set(['delete']));
  t.deepEqual([deletes(put('lock')), deletes(del('lock')), deletes(del('m'))], [false, true, false]);
  const both = changeMatcher({ key: 'lock' }, new Set(['put', 'delete']));
  t.deepEqual([both(put('lock')), both(del('lock'))], [true, true]);
});
