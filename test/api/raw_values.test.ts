/**
 * Values are stored as the client wrote them (minified): numbers past a double — nanosecond
 * timestamps, 64-bit ids — come back exact through PUT, batches (both the addon's compact path
 * and the general one), txns, GET, multi-get, scans, txn gets and watches; a compare by value compares that text. Unknown fields
 * are refused (a misspelt `ifRevision` must not drop a condition), and a PUT takes `ifRevision`
 * in its query as a DELETE does.
 */
import test from 'ava';
import { minifyJson, putValueText, rawValues } from '../../ts/api/raw_values';
import { seededRandom } from '../helpers/random';
import { singleNode } from '../helpers/single_node';
import { openStream } from '../helpers/stream_reader';

const BIG = '{"ts":1700000000000000001,"id":18446744073709551615,"px":0.1000000000000000055511151231257827,"huge":1e400,"s":"a b\\"c\\u0041"}';

async function call(url: string, method: string, body?: string): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(url, { method, body });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

test('rawValues finds the value texts of the write shapes, minified, the last of a name winning', (t) => {
  const text = `{ "ifRevision": 3, "value" : ${BIG.replace(/,/g, ' ,\n ')} }`;
  t.deepEqual([...rawValues(text)], [['value', BIG.replace(/,/g, ',')]]);
  const batch = '{"ops.0":{"value":"decoy"},"ops":[{"op":"put","key":"a","value":[1, 2]},7,{"value":{"x" : "y z"},"value":"last"}],"compare":[{"key":"k","value":{"n":1}}]}';
  t.deepEqual(Object.fromEntries(rawValues(batch)), { 'ops.0.value': '[1,2]', 'ops.2.value': '"last"', 'compare.0.value': '{"n":1}' });
  t.is(minifyJson('{ "a" : [ 1 , "x  y" ] }'), '{"a":[1,"x  y"]}');
  t.deepEqual([...rawValues('[{"value":1}]')], [], 'not a write shape');
  t.deepEqual([...rawValues('{"v\\u0061lue":5}')], [['value', '5']], 'escaped names are decoded');
  t.is(putValueText('{"value":{"a" : 1}}', 1), '{"a":1}', 'the sole member is sliced');
  t.is(putValueText('{"value":1,"ifRevision":2}', 2), '1');
  t.is(putValueText('{"ifRevision":2,"value":[1]}', 2), '[1]');
});

/** A random JSON value as [text with random whitespace between tokens, the same text minified]. */
function randomJson(rand: () => number, depth: number): [string, string] {
  const ws = () => [' ', '\n', '\t', '  ', '', '', ''][Math.floor(rand() * 7)];
  const pick = Math.floor(rand() * (depth > 3 ? 4 : 6));
  const leaf = [
    () => String(Math.floor(rand() * 1e6) - 5e5),
    () => `${1 + Math.floor(rand() * 9)}${String(Math.floor(rand() * 1e18)).padStart(18, '0')}`,
    () => `-${Math.floor(rand() * 99)}.${Math.floor(rand() * 1e9)}e${Math.floor(rand() * 600) - 300}`,
    () => JSON.stringify(`a "q" \\ b{c}[d],e:f ${String.fromCharCode(32 + Math.floor(rand() * 2000))} \u0000`.slice(0, 1 + Math.floor(rand() * 30))),
  ];
  if (pick < 4) {
    const text = leaf[pick]();
    return [text, text];
  }
  const n = Math.floor(rand() * 4);
  const parts = Array.from({ length: n }, (_, i) => {
    const [spaced, compact] = randomJson(rand, depth + 1);
    const name = JSON.stringify(`k${i} "x"`);
    return pick === 4 ? [`${ws()}${spaced}${ws()}`, compact] : [`${ws()}${name}${ws()}:${ws()}${spaced}${ws()}`, `${name}:${compact}`];
  });
  const [open, close] = pick === 4 ? ['[', ']'] : ['{', '}'];
  return [`${open}${parts.map((p) => p[0]).join(',')}${ws()}${close}`, `${open}${parts.map((p) => p[1]).join(',')}${close}`];
}

test('rawValues gives every value of random write bodies exactly, minified (seed 41, 2,000 bodies)', (t) => {
  const rand = seededRandom(41);
  for (let i = 0; i < 2000; i++) {
    const values = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomJson(rand, 0));
    const ops = values.map(([spaced], k) => `{ "op" : "put", "value" :${spaced} , "key":"k${k}" }`);
    const body = `{"ops" : [ ${ops.join(' ,\n')} ] , "x":${values[0][0]}}`;
    JSON.parse(body);
    const found = rawValues(body);
    values.forEach(([, compact], k) => {
      t.is(found.get(`ops.${k}.value`), compact);
      t.deepEqual(JSON.parse(compact), JSON.parse(values[k][0]));
    });
    t.is(putValueText(`{"value":${values[0][0]}}`, 1), values[0][1]);
  }
});

test('a value comes back exactly as written: PUT, both batch paths, txn and watch', async (t) => {
  const { url } = await singleNode(t);
  const watch = await openStream(url('/v1/watch?prefix=v/'));
  t.teardown(watch.close);
  t.is((await call(url('/v1/kv/v/put'), 'PUT', `{"value": ${BIG}}`)).status, 200);
  t.is((await call(url('/v1/kv/v/put'), 'GET')).text, `{"key":"v/put","value":${BIG},"revision":${(await call(url('/v1/kv/v/put'), 'GET')).json.revision}}`);
  // The compact shape (the addon copies a canonical value) and a spaced one (the general path).
  t.is((await call(url('/v1/batch'), 'POST', `{"ops":[{"op":"put","key":"v/b1","value":{"ts":1700000000000000001}}]}`)).status, 200);
  t.is((await call(url('/v1/batch'), 'POST', `{"ops": [{"op": "put", "key": "v/b2", "value": ${BIG}}]}`)).status, 200);
  t.is((await call(url('/v1/txn'), 'POST', `{"success":[{"op":"put","key":"v/t","value":${BIG}}]}`)).json.succeeded, true);
  const multi = await call(url('/v1/multiget'), 'POST', '{"keys":["v/b1","v/b2","v/t"]}');
  t.true(multi.text.includes('{"ts":1700000000000000001}'));
  t.is(multi.text.split(BIG).length, 3, 'both big values verbatim');
  for (let i = 0; i < 4; i++) t.true((await watch.nextText()).includes(i === 1 ? '{"ts":1700000000000000001}' : BIG));
  const scanned = await call(url('/v1/kv?prefix=v/'), 'GET');
  t.is(scanned.text.split(BIG).length, 4, 'a scan shows the three big values verbatim');
  t.true(scanned.text.includes('"value":{"ts":1700000000000000001}'));
  t.deepEqual(scanned.json.items.map((i: { key: string }) => i.key), ['v/b1', 'v/b2', 'v/put', 'v/t']);
  const got = await call(url('/v1/txn'), 'POST', '{"success":[{"op":"get","key":"v/b1"},{"op":"get","key":"v/none"}]}');
  t.true(got.text.includes('"value":{"ts":1700000000000000001}'), got.text);
  t.like(got.json, { succeeded: true, results: [{ op: 'get', key: 'v/b1' }, { op: 'get', key: 'v/none', found: false }] });
});

test('a compare by value compares the stored text: a value one past a double does not match its neighbour', async (t) => {
  const { url } = await singleNode(t);
  await call(url('/v1/kv/c'), 'PUT', '{"value":{"ts":1700000000000000001}}');
  const txn = (v: string) => call(url('/v1/txn'), 'POST', `{"compare":[{"key":"c","value":${v}}],"success":[{"op":"get","key":"c"}]}`);
  t.false((await txn('{"ts":1700000000000000000}')).json.succeeded, 'the neighbouring double is another value');
  t.true((await txn('{ "ts" : 1700000000000000001 }')).json.succeeded, 'whitespace does not count');
});

test('unknown fields are refused; a PUT takes ifRevision in the query too', async (t) => {
  const { url } = await singleNode(t);
  const first = (await call(url('/v1/kv/u'), 'PUT', '{"value":1}')).json.revision as number;
  for (const [path, method, body, field] of [
    ['/v1/kv/u', 'PUT', '{"value":2,"ifrevision":1}', 'ifrevision'],
    ['/v1/batch', 'POST', '{"ops":[{"op":"put","key":"u","value":2}],"atomic":true}', 'atomic'],
    ['/v1/txn', 'POST', '{"compare":[{"key":"u","revison":1}],"success":[]}', 'revison'],
    ['/v1/txn', 'POST', '{"success":[{"op":"put","key":"u","value":2,"lease":5}]}', 'lease'],
  ]) {
    const r = await call(url(path), method, body);
    t.is(r.status, 400, body);
    t.is(r.json.error.code, 'invalid_body');
    t.true(r.json.error.message.includes(`"${field}"`), r.json.error.message);
  }
  const item = (await call(url('/v1/batch'), 'POST', '{"ops":[{"op":"put","key":"u","value":2,"ifRevison":1},{"op":"put","key":"w","value":3}]}')).json.results;
  t.is(item[0].error.code, 'invalid_body', 'a batch item fails alone');
  t.truthy(item[1].revision);
  t.is((await call(url('/v1/kv/u'), 'GET')).json.value, 1, 'nothing refused was applied');
  t.is((await call(url('/v1/kv/u?ifRevision=0'), 'PUT', '{"value":3}')).json.error.code, 'revision_mismatch', 'the query condition holds');
  t.is((await call(url(`/v1/kv/u?ifRevision=${first}`), 'PUT', `{"value":3,"ifRevision":${first + 1}}`)).json.error.code, 'invalid_revision');
  t.is((await call(url(`/v1/kv/u?ifRevision=${first}`), 'PUT', '{"value":3}')).status, 200);
  for (const method of ['PUT', 'DELETE']) {
    const r = await call(url('/v1/kv/u?ifRevison=1'), method, method === 'PUT' ? '{"value":4}' : undefined);
    t.is(r.json.error.code, 'invalid_query', method);
    t.regex(r.json.error.message, /"ifRevison"/);
  }
  t.is((await call(url('/v1/kv/u'), 'GET')).json.value, 3, 'neither misspelt condition applied a write');
});

test('control bodies refuse unknown fields too: a misspelt option is never silently dropped', async (t) => {
  const { url } = await singleNode(t);
  await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"kind":"trade","instrument":"A","price":"1","size":1,"side":"buy","tsEvent":1,"producerId":"p","producerSeq":1}' });
  for (const [path, body, field] of [
    ['/v1/md/replay', '{"instruments":["A"],"speeed":10}', 'speeed'],
    ['/v1/md/books/top', '{"instruments":["A"],"depth":5}', 'depth'],
    ['/v1/cluster/members', '{"id":"n7","peer":"127.0.0.1:1","lerner":true}', 'lerner'],
    ['/v1/cluster/leader', '{"id":"n1","force":true}', 'force'],
    ['/v1/monitor/throttle', '{"enabled":true,"limit":3}', 'limit'],
  ]) {
    const r = await call(url(path), 'POST', body);
    t.is(r.status, 400, `${path} ${r.text}`);
    t.true(r.json.error.message.includes(`"${field}"`), r.json.error.message);
  }
  t.is((await call(url('/v1/cluster/members'), 'GET')).json.members.length, 1, 'the member was not added');
});
