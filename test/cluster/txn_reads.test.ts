/**
 * A transaction is seen whole or not at all: multi-gets on every member, while transactions
 * that each write `a` = i and a fresh key `b<i>` = i are applied. Each also writes a 300 KB
 * value, so every batch is past what a member writes on its event-loop thread (256 KiB) and
 * goes to the engine's thread pool — the path on which a read could once see the engine ahead
 * of the read cache (test/node/read_gate.test.ts has the deterministic cases).
 */
import test from 'ava';
import { tempDir } from '../helpers/tmp';
import { ProcCluster, type Proc } from './procs';

const TXNS = 40;

test('multi-gets on every member see each transaction whole while big batches apply', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  const pad = 'x'.repeat(300_000);
  let committed = 0;
  let writing = true;
  const writer = async () => {
    try {
      for (let i = 1; i <= TXNS; i++) {
        const success = [{ op: 'put', key: 'a', value: i }, { op: 'put', key: `b${i}`, value: i }, { op: 'put', key: 'pad', value: pad }];
        const r = await fetch(leader.url('/v1/txn'), { method: 'POST', body: JSON.stringify({ compare: [], success }) });
        t.is(r.status, 200, await r.text());
        committed = i;
      }
    } finally {
      writing = false;
    }
  };
  const seen: string[] = [];
  let reads = 0;
  const reader = async (p: Proc) => {
    while (writing) {
      const near = [committed - 1, committed, committed + 1, committed + 2].filter((j) => j >= 1);
      const r = await fetch(p.url('/v1/multiget?layout=positional'), { method: 'POST', body: JSON.stringify({ keys: ['a', ...near.map((j) => `b${j}`)] }) });
      t.is(r.status, 200);
      const { items } = (await r.json()) as { items: ({ value: number } | null)[] };
      const a = items[0]?.value ?? 0;
      // txn j wrote a = j and b<j> together, and `a` only grows: b<j> exists exactly when a ≥ j.
      near.forEach((j, k) => {
        if ((items[k + 1] !== null) !== a >= j) seen.push(`${p.id}: a=${a}, b${j} ${items[k + 1] === null ? 'absent' : 'present'}`);
      });
      reads++;
    }
  };
  await Promise.all([writer(), ...cluster.procs.map(reader)]);
  t.deepEqual(seen, [], 'half of a transaction was seen');
  t.true(reads >= TXNS, `${reads} multi-gets during ${TXNS} transactions`);
  t.log(`${reads} multi-gets during ${TXNS} transactions`);
});
