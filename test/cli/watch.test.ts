/**
 * `quorumkv watch PREFIX`: changes under the prefix as JSON lines, from a revision, until Ctrl-C
 * (exit 0); an error the node answers (a revision no longer retained) exits 1 with it on stderr.
 */
import test from 'ava';
import { followCli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

const watchCli = (t: import('ava').ExecutionContext, args: string[]) => followCli(t, ['watch', ...args]);

async function put(url: string, value: unknown, valueText = JSON.stringify(value)): Promise<number> {
  const res = await fetch(url, { method: 'PUT', body: `{"value":${valueText}}` });
  return ((await res.json()) as { revision: number }).revision;
}

test('watch prints the changes under its prefix from a revision, and exits 0 on Ctrl-C', async (t) => {
  const { url } = await singleNode(t);
  const from = (await put(url('/v1/kv/orders/0'), 0)) + 1;
  const run = watchCli(t, ['orders/', '--endpoint', url(''), '--from-revision', String(from)]);
  await put(url('/v1/kv/other/1'), 1);
  const written = await put(url('/v1/kv/orders/1'), { qty: 5 });
  await fetch(url('/v1/kv/orders/1'), { method: 'DELETE' });
  const exact = await put(url('/v1/kv/orders/2'), undefined, '{"ts": 1700000000000000001}');
  await pollUntil(async () => run.out().split('\n').length > 3, 'three changes printed');
  const lines = run.out().trim().split('\n');
  t.deepEqual(
    lines.slice(0, 2).map((l) => JSON.parse(l) as unknown),
    [
      { type: 'put', key: 'orders/1', value: { qty: 5 }, revision: written },
      { type: 'delete', key: 'orders/1', revision: written + 1 },
    ],
  );
  t.is(lines[2], `{"type":"put","key":"orders/2","value":{"ts":1700000000000000001},"revision":${exact}}`, 'a value is printed as stored, exact');
  run.stop();
  t.is(await run.closed, 0, run.err());
});

test('watch exits 1 with the error as JSON when the revision is not retained', async (t) => {
  const { url } = await singleNode(t, { watchHistoryMax: 2 });
  for (let i = 0; i < 5; i++) await put(url(`/v1/kv/k${i}`), i);
  const run = watchCli(t, ['k', '--endpoint', url(''), '--from-revision', '1']);
  t.is(await run.closed, 1);
  t.is((JSON.parse(run.err()) as { error: { code: string } }).error.code, 'compacted');
});

test('watch --key follows one key, --types only deletes; a bad selector exits 1 with the node\'s error', async (t) => {
  const { url } = await singleNode(t);
  const from = (await put(url('/v1/kv/lock'), 'a')) + 1;
  const run = watchCli(t, ['--key', 'lock', '--types', 'delete', '--endpoint', url(''), '--from-revision', String(from)]);
  await put(url('/v1/kv/lock'), 'b');
  await put(url('/v1/kv/lock2'), 'c');
  await fetch(url('/v1/kv/lock2'), { method: 'DELETE' });
  await fetch(url('/v1/kv/lock'), { method: 'DELETE' });
  await pollUntil(async () => run.out().includes('\n'), 'a change printed');
  t.like(JSON.parse(run.out().split('\n')[0]), { type: 'delete', key: 'lock', revision: from + 3 });
  run.stop();
  t.is(await run.closed, 0, run.err());
  const bad = watchCli(t, ['orders/', '--key', 'lock', '--endpoint', url('')]);
  t.is(await bad.closed, 1);
  t.is((JSON.parse(bad.err()) as { error: { code: string } }).error.code, 'invalid_query');
});
