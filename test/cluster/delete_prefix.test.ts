/**
 * Range deletes decide their keys where they apply, and each member batches entries its own
 * way: with writers putting keys under the prefix while parts are deleted, every member must end
 * with the same keys, and the last part's `more: false` means no key of the prefix written
 * before it was left. (Whether a part shares an applied batch with puts of its range is up to
 * timing here; test/node/delete_range.test.ts has those cases deterministically.)
 */
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

type Item = { key: string; revision: number };

async function keysOf(p: Proc, prefix: string): Promise<Item[]> {
  const out: Item[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ prefix, limit: '1000', consistency: 'stale' });
    if (after !== undefined) q.set('after', after);
    const page = (await (await fetch(p.url(`/v1/kv?${q}`))).json()) as { items: Item[]; more: boolean; next?: string };
    out.push(...page.items.map((i) => ({ key: i.key, revision: i.revision })));
    if (!page.more) return out;
    after = page.next ?? page.items[page.items.length - 1].key;
  }
}

async function applied(p: Proc): Promise<number> {
  return ((await (await fetch(p.url('/v1/cluster'))).json()) as { appliedIndex: number }).appliedIndex;
}

test('members agree on what range deletes left while writers put keys under the prefix', async (t) => {
  t.timeout(120_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 3);
  const leader = await cluster.leader();
  const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `m/${String(i).padStart(4, '0')}`, value: i }));
  t.is((await fetch(leader.url('/v1/batch'), { method: 'POST', body: JSON.stringify({ ops }) })).status, 200);
  let deleting = true;
  let written = 0;
  // Writers put keys across the range (before and after the parts' progress) until the deletes end.
  const writer = async (w: number) => {
    for (let i = 0; deleting; i++) {
      const key = `m/${String((i * 37 + w * 101) % 1000).padStart(4, '0')}x${w}`;
      const res = await fetch(leader.url(`/v1/kv/${key}`), { method: 'PUT', body: '{"value":1}' });
      t.is(res.status, 200);
      written++;
    }
  };
  const writers = [0, 1, 2, 3, 4, 5, 6, 7].map(writer);
  let parts = 0;
  let last = { deleted: 0, more: true, revision: 0 };
  // Sweeps of the prefix until the writers have put enough keys into the parts' way.
  while (last.more || written < 500) {
    const res = await fetch(leader.url('/v1/kv?prefix=m/&limit=100'), { method: 'DELETE' });
    t.is(res.status, 200);
    last = (await res.json()) as typeof last;
    parts++;
  }
  deleting = false;
  await Promise.all(writers);
  t.log(`${parts} parts, ${written} puts under the prefix meanwhile`);
  t.true(written > 0);
  const target = await applied(leader);
  await pollUntil(async () => (await Promise.all(cluster.alive().map(applied))).every((a) => a >= target), 'every member applied the last write', 30_000);
  const [first, ...rest] = await Promise.all(cluster.alive().map((p) => keysOf(p, 'm/')));
  for (const keys of rest) t.deepEqual(keys, first, 'every member holds the same keys');
  t.deepEqual(first.filter((i) => i.revision <= last.revision), [], 'the last part (more: false) left no older key of the prefix');
});
