/**
 * `quorumkv scan --all` prints every key of the prefix, page after page, one JSON line each as
 * the node wrote it (a number past a double stays exact); `--after` starts later. The array
 * splitter it uses keeps each element's text, nested values and strings with brackets included.
 * A range `[--start, --end)` reads the same way, either way (`--reverse`), keys only, or
 * counted; the client library's `scan` and `count` take the same ranges.
 */
import test from 'ava';
import { arrayElements } from '../../ts/json_text';
import { runCli as cli } from '../helpers/cli';
import { singleNode } from '../helpers/single_node';
import { QuorumClient } from '../../ts/client';

test('array elements are split at the top level only, each as written', (t) => {
  const text = '{"items":[ {"key":"a]","value":[1,{"b":"}"}],"revision":2} , 12345678901234567890,"x\\"]" ,[] ],"more":true}';
  t.deepEqual(arrayElements(text, text.indexOf('[')), ['{"key":"a]","value":[1,{"b":"}"}],"revision":2}', '12345678901234567890', '"x\\"]"', '[]']);
  t.deepEqual(arrayElements('[ ]', 0), []);
  t.throws(() => arrayElements('[1,2', 0), { message: /does not end/ });
});

test('scan --all: every key of the prefix in order, one exact line each, across pages', async (t) => {
  const { url } = await singleNode(t);
  const keys = Array.from({ length: 2_500 }, (_, i) => `s/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < keys.length; i += 1000) {
    const ops = keys.slice(i, i + 1000).map((key) => ({ op: 'put', key, value: { n: 1 } }));
    t.is((await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops }) })).status, 200);
  }
  await fetch(url('/v1/kv/s/0001'), { method: 'PUT', body: '{"value":{"ts":1700000000000000001}}' });
  await fetch(url('/v1/kv/t/1'), { method: 'PUT', body: '{"value":1}' });
  const all = await cli(['scan', '--all', '--prefix', 's/', '--limit', '1000', '--endpoint', url('')]);
  t.is(all.code, 0, all.stderr);
  const lines = all.stdout.trimEnd().split('\n');
  t.deepEqual(lines.map((l) => (JSON.parse(l) as { key: string }).key), keys);
  t.regex(lines[1], /^\{"key":"s\/0001","value":\{"ts":1700000000000000001\},"revision":\d+\}$/);
  const later = await cli(['scan', '--all', '--prefix', 's/', '--after', 's/2497', '--stale', '--endpoint', url('')]);
  t.deepEqual(later.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { key: string }).key), ['s/2498', 's/2499']);
});

test('scan --start/--end, --reverse, --keys-only, --count; the client scans and counts ranges', async (t) => {
  const { url } = await singleNode(t);
  const keys = Array.from({ length: 30 }, (_, i) => `r/${String(i).padStart(2, '0')}`);
  t.is((await fetch(url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops: keys.map((key) => ({ op: 'put', key, value: 1 })) }) })).status, 200);
  const read = async (args: string[]): Promise<unknown[]> => {
    const r = await cli(['scan', ...args, '--endpoint', url('')]);
    t.is(r.code, 0, r.stderr);
    return r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  };
  const down = await read(['--all', '--start', 'r/05', '--end', 'r/25', '--reverse', '--keys-only', '--limit', '7']);
  t.deepEqual(down.map((i) => (i as { key: string }).key), keys.slice(5, 25).reverse());
  t.false(down.some((i) => 'value' in (i as object)), 'keys only');
  t.deepEqual(await read(['--count', '--start', 'r/05', '--end', 'r/25']), [{ count: 20 }]);
  const one = await cli(['scan', '--prefix', 'r/', '--reverse', '--limit', '2', '--endpoint', url('')]);
  const page = JSON.parse(one.stdout) as { items: { key: string }[]; more: boolean };
  t.deepEqual(page.items.map((i) => i.key), ['r/29', 'r/28']);
  const client = new QuorumClient({ endpoints: [url('')] });
  t.teardown(() => client.close());
  const scanned: string[] = [];
  for await (const kv of client.scan({ start: 'r/10', end: 'r/20', reverse: true, pageSize: 3 })) scanned.push(kv.key);
  t.deepEqual(scanned, keys.slice(10, 20).reverse());
  t.is(await client.count({ prefix: 'r/' }), 30);
  const listed: { key: string; revision: number }[] = [];
  for await (const k of client.keys({ start: 'r/27', pageSize: 2 })) listed.push(k);
  t.deepEqual(listed.map((k) => k.key), ['r/27', 'r/28', 'r/29']);
  t.true(listed.every((k) => Number.isInteger(k.revision) && !('value' in k)));
  t.is(await client.count({ start: 'r/28' }), 2);
});
