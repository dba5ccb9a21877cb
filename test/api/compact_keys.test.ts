/** A multi-get body's keys read without JSON.parse: the same keys JSON.parse reads, or a fallback. */
import test from 'ava';
import { compactKeys } from '../../ts/api/compact_keys';
import { seededRandom } from '../helpers/random';

const parsed = (text: string) => (JSON.parse(text) as { keys: string[] }).keys;

test('compact bodies as clients send them: the keys JSON.parse reads', (t) => {
  for (const keys of [[], ['a'], ['k1', 'k2', 'k1'], ['a]}', 'x,y', 'é€😀', ' spaced ', '{keys:['], ['x'.repeat(5000)]]) {
    const text = JSON.stringify({ keys });
    t.deepEqual(compactKeys(text), keys, text);
  }
});

test('a key JSON.stringify escapes (a quote) sends the body to JSON.parse', (t) => {
  t.is(compactKeys(JSON.stringify({ keys: ['a', 'say "hi"'] })), undefined);
});

test('other shapes fall back to JSON.parse (undefined), never a different answer', (t) => {
  for (const text of ['{"keys": ["a"]}', '{"keys":["a\\"b"]}', '{"keys":["a\\nb"]}', '{"keys":["a",]}', '{"keys":["a"],"x":1}', '{"keys":["a"]} ', '{"keys":[1]}', '{"keys":["a""b"]}', '{"keys":["a]}', '{"keys":["\u0001"]}', '{"keys":[', 'x']) {
    t.is(compactKeys(text), undefined, text);
  }
});

test('seeded random bodies: whenever it answers, it answers what JSON.parse does', (t) => {
  const random = seededRandom(7);
  const alphabet = ['a', 'b', '"', '\\', ',', ']', '}', '[', '{', ' ', 'é', '\n', ':'];
  let answered = 0;
  for (let n = 0; n < 20_000; n++) {
    let text = '{"keys":[';
    for (let k = Math.floor(random() * 4); k > 0; k--) {
      text += '"';
      for (let c = Math.floor(random() * 4); c > 0; c--) text += alphabet[Math.floor(random() * alphabet.length)];
      text += random() < 0.9 ? '"' : '';
      if (k > 1) text += random() < 0.9 ? ',' : '';
    }
    text += random() < 0.9 ? ']}' : ']';
    const got = compactKeys(text);
    if (got === undefined) continue;
    answered++;
    t.deepEqual(got, parsed(text), text);
  }
  t.true(answered > 1000, `answered ${answered} of 20,000`);
});
