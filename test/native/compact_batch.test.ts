/**
 * Batched-write bodies encoded by the addon (`compactBatch`): whenever it answers, its items are
 * the bytes the API's general path writes for that body (JSON.parse, then JSON.stringify per
 * value, then the command codec); otherwise undefined, never a different answer.
 */
import test from 'ava';
import { BATCH_OPS_MAX } from '../../ts/api/batch';
import { KEY_BYTES_MAX, VALUE_BYTES_MAX } from '../../ts/api/args';
import { type BatchItem, decodeCommand, encodeCommand, Op } from '../../ts/node/commands';
import { compactBatch } from '../../ts/native';
import { seededRandom } from '../helpers/random';

type RawOp = { op: string; key: string; value?: unknown };

const encode = (body: string) => compactBatch(Buffer.from(body), BATCH_OPS_MAX, KEY_BYTES_MAX, VALUE_BYTES_MAX);

/** What the general path would propose for a body of plain puts and deletes. */
function expected(body: string): Buffer {
  const ops = (JSON.parse(body) as { ops: RawOp[] }).ops;
  const items: BatchItem[] = ops.map((o) => (o.op === 'put' ? { op: Op.Put, key: o.key, value: Buffer.from(JSON.stringify(o.value)) } : { op: Op.Delete, key: o.key }));
  return decodeCommand(encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', items })).itemsRaw!;
}

test('bodies as the client library sends them: the items the general path encodes', (t) => {
  const values: unknown[] = ['v'.repeat(98), 0, -12.5, 1e-6, 1e20, 123456789.125, true, null, [], {}, { a: [1, { b: 'é€😀\n\t"\\\u0001' }] }, 'x'.repeat(1000)];
  const ops: RawOp[] = values.map((value, i) => ({ op: 'put', key: `k${i}`, value }));
  ops.push({ op: 'delete', key: 'gone' }, { key: 'é/€ x', op: 'put', value: 1 });
  const body = JSON.stringify({ ops });
  const got = encode(body);
  t.truthy(got);
  t.deepEqual(got, expected(body));
  // Decodes as a command's batch, with the values as stored.
  const cmd = decodeCommand(encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', itemsRaw: got }));
  t.deepEqual(cmd.items!.map((it) => it.value?.toString()), ops.map((o) => (o.op === 'put' ? JSON.stringify(o.value) : undefined)));
});

test('what the general path would answer otherwise goes to it', (t) => {
  const put = (extra: string) => `{"ops":[{"op":"put","key":"a","value":1${extra}}]}`;
  for (const body of [put(',"ifRevision":3'), put(',"idempotencyKey":"x"'), '{"ops":[{"op":"put","key":"a"}]}', '{"ops":[]}', put('') + ' ', '{"ops":[{"op":"put","key":"\\u0000a","value":1}]}', `{"ops":[{"op":"put","key":"${'k'.repeat(KEY_BYTES_MAX + 1)}","value":1}]}`, JSON.stringify({ ops: Array.from({ length: BATCH_OPS_MAX + 1 }, (_, i) => ({ op: 'delete', key: `k${i}` })) }), JSON.stringify({ ops: [{ op: 'put', key: 'a', value: 'x'.repeat(VALUE_BYTES_MAX) }] })]) {
    t.is(encode(body), undefined, body.slice(0, 80));
  }
});

/** A random JSON value, sometimes written other than JSON.stringify would write it. */
function randomText(random: () => number, depth: number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const r = random();
  if (depth > 3 || r < 0.45) {
    return pick(['0', '-0', '1', '-1', '1.5', '1.50', '1e3', '0.1', '0.30000000000000004', '0.3000000000000000444', '1e21', '1e-7', '0.000001', '123456789012345678', '9007199254740993', '007', 'true', 'null', 'false', '"a"', '"\\/"', '"\\u0041"', '"\\u001f"', '"\\u001F"', '"\\n"', '"\\u000a"', '"é"', '"\\ud83d\\ude00"', '"\\ud800"', '" "', '"\\""']);
  }
  const n = Math.floor(random() * 3);
  const items = Array.from({ length: n }, () => randomText(random, depth + 1));
  if (r < 0.7) return `[${items.join(pick([',', ',', ', ']))}]`;
  const names = items.map(() => pick(['"a"', '"b"', '"1"', '"01"', '"__proto__"', '"a\\u0000"', '""']));
  return `{${items.map((v, i) => `${names[i]}:${v}`).join(',')}}`;
}

test('seeded random values: whenever it answers, it answers what JSON.parse then JSON.stringify do', (t) => {
  const random = seededRandom(11);
  let answered = 0;
  for (let n = 0; n < 20_000; n++) {
    const body = `{"ops":[{"op":"put","key":"k","value":${randomText(random, 0)}}]}`;
    let want: Buffer | undefined;
    try {
      want = expected(body);
    } catch {
      want = undefined; // not JSON at all: the general path refuses it
    }
    const got = encode(body);
    if (got === undefined) continue;
    answered++;
    t.truthy(want, body);
    if (!want?.equals(got)) t.fail(`${body}: ${got.toString('latin1')} against ${want?.toString('latin1')}`);
  }
  // (Most generated values are written as JSON.stringify writes them, so most are answered.)
  t.true(answered > 2_000, `${answered} answered`);
});
