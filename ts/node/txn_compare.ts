/**
 * A txn compare's test of a key as the txn applies (etcd's Compare): `exists`, and the key's
 * `revision` or `value` against the compare's, equal by default or by `cmp`:
 *
 * - `=` / `!=`: a revision as a number (absent: 0); a value as its stored text, byte for byte
 *   (values are stored as written, minified: parsing both would call 1700000000000000001 and
 *   1700000000000000000 equal, one double).
 * - `<`, `<=`, `>`, `>=`: a revision as a number; a value only when both are JSON numbers —
 *   integers exactly (a nanosecond timestamp past 2^53 included), others as doubles. A risk
 *   check: `{"key":"pos/AAPL","value":1000,"cmp":"<"}`, then incr the position, in one txn.
 *
 * A value compare never holds for an absent key (test absence with `exists: false`), nor an
 * ordered one for a value that is not a number.
 */
import type { Compare, CompareOp } from './commands';
import type { Current } from './overlay';

/** A JSON number's text: its parts (sign and digits; a fraction or exponent makes it inexact). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

export function compareHolds(c: Compare, current: Current): boolean {
  if (c.exists !== undefined && c.exists !== (current !== null)) return false;
  const cmp = c.cmp ?? '=';
  if (c.revision !== undefined && !holds(Math.sign((current?.revision ?? 0) - c.revision), cmp)) return false;
  if (c.value !== undefined) {
    if (current === null) return false;
    if (cmp === '=' || cmp === '!=') return current.value.equals(c.value) === (cmp === '=');
    const order = numericOrder(current.value.toString('latin1'), c.value.toString('latin1'));
    if (order === undefined || !holds(order, cmp)) return false;
  }
  return true;
}

/** Whether `order` (the key's side against the compare's: -1, 0, 1) satisfies `cmp`. */
function holds(order: number, cmp: CompareOp): boolean {
  switch (cmp) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

/** -1, 0 or 1 as number `a` is below, equal to or above `b`; undefined unless both are JSON numbers. */
export function numericOrder(a: string, b: string): number | undefined {
  const ma = JSON_NUMBER.exec(a.trim());
  const mb = JSON_NUMBER.exec(b.trim());
  if (ma === null || mb === null) return undefined;
  const integers = ma[1] === undefined && ma[2] === undefined && mb[1] === undefined && mb[2] === undefined;
  const [x, y] = integers ? [BigInt(ma[0]), BigInt(mb[0])] : [Number(ma[0]), Number(mb[0])];
  return x < y ? -1 : x > y ? 1 : 0;
}
