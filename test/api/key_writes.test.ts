/**
 * Single-key writes of one event-loop turn share one log entry: each keeps its own answer (a
 * conflict fails alone), a key written twice in a turn goes in two entries (its revision names one
 * value), and a write retried under its idempotency key is answered from the first, whichever
 * way each was proposed.
 */
import test from 'ava';
import { KeyWrites } from '../../ts/api/key_writes';
import { Op } from '../../ts/node/commands';
import { singleNode } from '../helpers/single_node';

const value = (v: unknown) => Buffer.from(JSON.stringify(v));

test('one turn of writes to distinct keys is one entry; each has its own answer', async (t) => {
  const { node, url } = await singleNode(t);
  const writes = KeyWrites.of(node);
  const [a, b, stale, gone] = await Promise.all([
    writes.write({ op: Op.Put, key: 'a', value: value(1) }, undefined),
    writes.write({ op: Op.Put, key: 'b', value: value(2) }, undefined),
    writes.write({ op: Op.Put, key: 'c', value: value(3), ifRevision: 42 }, undefined),
    writes.write({ op: Op.Delete, key: 'd' }, undefined),
  ]);
  // One entry: every write's revision is its index.
  const revision = (a as { revision: number }).revision;
  t.deepEqual(a, { kind: 'put', revision });
  t.deepEqual(b, { kind: 'put', revision });
  t.deepEqual(stale, { kind: 'mismatch', currentRevision: 0 });
  t.deepEqual(gone, { kind: 'delete', deleted: false, revision });
  t.like(await (await fetch(url('/v1/kv/b'))).json(), { value: 2, revision });
  t.is((await fetch(url('/v1/kv/c'))).status, 404);
});

test('a key written twice in a turn goes in two entries, in order; so does a repeated idempotency key', async (t) => {
  const { node, url } = await singleNode(t);
  const writes = KeyWrites.of(node);
  const [first, second, other] = await Promise.all([
    writes.write({ op: Op.Put, key: 'k', value: value('first') }, undefined),
    writes.write({ op: Op.Put, key: 'k', value: value('second') }, undefined),
    writes.write({ op: Op.Put, key: 'x', value: value(0) }, undefined),
  ]);
  // Two entries proposed together: consecutive indexes; the second key rides in the second.
  const revision = (first as { revision: number }).revision;
  t.deepEqual([first, second, other], [{ kind: 'put', revision }, { kind: 'put', revision: revision + 1 }, { kind: 'put', revision: revision + 1 }]);
  t.like(await (await fetch(url('/v1/kv/k'))).json(), { value: 'second', revision: revision + 1 });
  // The same write twice under one key, in one turn: applied once, the second is its replay.
  const keyed = { op: Op.Put, key: 'once', value: value(1), idem: 'order-7' } as const;
  const [applied, replayed] = await Promise.all([writes.write({ ...keyed }, Date.now()), writes.write({ ...keyed }, Date.now())]);
  t.deepEqual(replayed, { ...(applied as object), replayed: true });
  // And alone later, over HTTP: the same answer again.
  const again = await fetch(url('/v1/kv/once'), { method: 'PUT', body: JSON.stringify({ value: 1 }), headers: { 'idempotency-key': 'order-7' } });
  t.deepEqual([again.status, again.headers.get('idempotent-replayed'), await again.json()], [200, 'true', { revision: (applied as { revision: number }).revision }]);
});
