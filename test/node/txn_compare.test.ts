/**
 * Txn compares other than equality: each relation against a model, on revisions and on values
 * (integers exactly past 2^53, decimals as doubles, text only by equality); and through the API,
 * a position limit that concurrent orders cannot overrun (compare `<` then incr, in one txn).
 */
import test from 'ava';
import { type Compare, type CompareOp, COMPARE_OPS } from '../../ts/node/commands';
import { compareHolds, numericOrder } from '../../ts/node/txn_compare';
import { singleNode } from '../helpers/single_node';

const current = (value: string, revision = 7) => ({ value: Buffer.from(value), revision });
const model: Record<CompareOp, (o: number) => boolean> = { '=': (o) => o === 0, '!=': (o) => o !== 0, '<': (o) => o < 0, '<=': (o) => o <= 0, '>': (o) => o > 0, '>=': (o) => o >= 0 };

test('revisions and numeric values relate as the model says, for every relation', (t) => {
  const numbers: [string, string, number][] = [
    ['5', '7', -1],
    ['7', '7', 0],
    ['-3', '-10', 1],
    ['1700000000000000001', '1700000000000000000', 1], // one double apart from nothing: compared exactly
    ['101.25', '101.5', -1],
    ['1e3', '999', 1],
    ['0.0', '0', 0],
  ];
  for (const [key, given, order] of numbers) {
    t.is(numericOrder(key, given), order, `${key} vs ${given}`);
    for (const cmp of COMPARE_OPS.filter((c) => c !== '=' && c !== '!=')) {
      t.is(compareHolds({ key: 'k', value: Buffer.from(given), cmp }, current(key)), model[cmp](order), `${key} ${cmp} ${given}`);
    }
  }
  for (const [rev, given] of [[3, 7], [7, 7], [9, 7], [0, 0]]) {
    for (const cmp of COMPARE_OPS) {
      const c: Compare = { key: 'k', revision: given, cmp };
      t.is(compareHolds(c, rev === 0 ? null : current('1', rev)), model[cmp](Math.sign(rev - given)), `revision ${rev} ${cmp} ${given}`);
    }
  }
});

test('equality compares the stored text; ordered compares need numbers; an absent key holds no value compare', (t) => {
  t.true(compareHolds({ key: 'k', value: Buffer.from('"a"'), cmp: '!=' }, current('"b"')));
  t.false(compareHolds({ key: 'k', value: Buffer.from('"a"'), cmp: '!=' }, current('"a"')));
  t.false(compareHolds({ key: 'k', value: Buffer.from('5'), cmp: '<' }, current('"3"')), 'a string is not a number');
  t.is(numericOrder('[1]', '2'), undefined);
  t.false(compareHolds({ key: 'k', value: Buffer.from('5'), cmp: '!=' }, null), 'absent: no value compare holds');
  t.false(compareHolds({ key: 'k', value: Buffer.from('5'), cmp: '<' }, null));
  t.true(compareHolds({ key: 'k', revision: 0, cmp: '>', exists: true }, current('1')), 'exists and revision together');
});

async function txn(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('a position limit holds under concurrent orders: compare below the limit, then incr, in one txn', async (t) => {
  const { url } = await singleNode(t);
  const LIMIT = 1000;
  const order = () => txn(url('/v1/txn'), { compare: [{ key: 'pos/AAPL', value: LIMIT - 100, cmp: '<=' }], success: [{ op: 'incr', key: 'pos/AAPL', by: 100 }], failure: [{ op: 'get', key: 'pos/AAPL' }] });
  t.is((await txn(url('/v1/txn'), { compare: [], success: [{ op: 'put', key: 'pos/AAPL', value: 0 }] })).status, 200);
  const answers = await Promise.all(Array.from({ length: 25 }, order));
  t.true(answers.every((a) => a.status === 200));
  t.is(answers.filter((a) => a.json.succeeded).length, LIMIT / 100, 'exactly as many orders as fit the limit');
  const final = (await (await fetch(url('/v1/kv/pos/AAPL'))).json()) as { value: number };
  t.is(final.value, LIMIT);
  // Refusals: an unknown relation, one relating both or neither field, an ordered compare of text.
  const refused = async (c: Record<string, unknown>): Promise<void> => {
    const r = await txn(url('/v1/txn'), { compare: [{ key: 'pos/AAPL', ...c }], success: [] });
    t.is(r.status, 400, JSON.stringify(c));
    t.is(r.json.error.code, 'invalid_body', JSON.stringify(c));
  };
  await refused({ value: 1, cmp: '<>' });
  await refused({ value: 1, revision: 2, cmp: '<' });
  await refused({ exists: true, cmp: '<' });
  await refused({ value: 'abc', cmp: '<' });
});
