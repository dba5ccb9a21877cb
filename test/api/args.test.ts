/** Request body checks: a JSON body nested past the limit is refused before anything recurses over it. */
import test from 'ava';
import { JSON_DEPTH_MAX, parseJson } from '../../ts/api/args';
import { QuorumError } from '../../ts/errors';

const nested = (depth: number, open: string, close: string, inner = '1') => Buffer.from(`${open.repeat(depth)}${inner}${close.repeat(depth)}`);

test(`bodies nested up to ${JSON_DEPTH_MAX} levels parse; deeper ones are invalid_json`, (t) => {
  t.deepEqual(parseJson(Buffer.from('{"a":[1,{"b":[]}]}')), { a: [1, { b: [] }] });
  t.is(parseJson(Buffer.from('7')), 7);
  t.notThrows(() => parseJson(nested(JSON_DEPTH_MAX, '[', ']')));
  t.notThrows(() => parseJson(Buffer.from(`{"x":${nested(JSON_DEPTH_MAX - 1, '[', ']').toString()}}`)));
  for (const body of [nested(JSON_DEPTH_MAX + 1, '[', ']'), Buffer.from(`{"x":${nested(JSON_DEPTH_MAX, '[', ']').toString()}}`), nested(100_000, '[', ']'), Buffer.from(`[1,"[[[[",${nested(JSON_DEPTH_MAX + 1, '{"k":', '}').toString()}]`)]) {
    const err = t.throws(() => parseJson(body), { instanceOf: QuorumError });
    t.is((err as QuorumError).code, 'invalid_json');
  }
  // Brackets inside strings are text, not nesting; a wide body is not a deep one.
  t.notThrows(() => parseJson(Buffer.from(JSON.stringify({ s: '['.repeat(1000), wide: Array.from({ length: 10_000 }, () => [[]]) }))));
});
