/** The CLI prints answers indented as JSON.stringify(doc, null, 2) would, numbers as the node wrote them. */
import test from 'ava';
import { prettyJson } from '../../ts/cli/pretty_json';

test('indents like JSON.stringify(doc, null, 2) for ordinary documents', (t) => {
  for (const doc of [{ a: 1, b: [1, 2, { c: 'x, y: "z" {[' }], e: {}, f: [], g: null, h: true }, [], {}, 'str\\"q', 42, [[[]]], { 'k:"\\': -1.5e-7 }]) {
    const compact = JSON.stringify(doc);
    t.is(prettyJson(compact), JSON.stringify(doc, null, 2), compact);
    t.is(prettyJson(JSON.stringify(doc, null, 3)), JSON.stringify(doc, null, 2), 'other spacing is re-indented');
  }
});

test('numbers past a double are printed as written; text that is not JSON is undefined', (t) => {
  t.is(prettyJson('{"value":{"ts":1700000000000000001},"revision":7}'), '{\n  "value": {\n    "ts": 1700000000000000001\n  },\n  "revision": 7\n}');
  t.is(prettyJson('not json'), undefined);
  t.is(prettyJson(''), undefined);
});
