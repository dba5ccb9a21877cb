/**
 * `POST /v1/maintenance/defrag`: deleted keys' values stay on disk in the engine's files (and in
 * the latest snapshot's links to them) until a compaction drops them; a defrag compacts the
 * engine and cuts a snapshot so the data directory shrinks now, keeps every live key, refuses
 * (507) when the disk cannot hold the compaction's output, and runs once at a time.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { defragNeedsBytes } from '../../ts/node/defrag';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';

const GIB = 2 ** 30;
const KEYS = 1600;
const VALUE_BYTES = 4096;

async function call(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** Bytes of the files under `dir`, each inode once (a snapshot's files are hard links to the engine's). */
function diskBytes(dir: string, seen = new Map<number, number>()): number {
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    if (st.isDirectory()) diskBytes(join(dir, name), seen);
    else seen.set(st.ino, st.size);
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

const key = (i: number): string => `k/${String(i).padStart(5, '0')}`;

/** KEYS incompressible values, in batches. */
async function fill(url: (p: string) => string): Promise<string[]> {
  const values: string[] = [];
  for (let from = 0; from < KEYS; from += 200) {
    const ops = [];
    for (let i = from; i < from + 200; i++) {
      values.push(randomBytes(VALUE_BYTES).toString('base64'));
      ops.push({ op: 'put', key: key(i), value: values[i] });
    }
    const r = await call(url('/v1/batch'), 'POST', { ops });
    if (r.status !== 200) throw new Error(`batch ${r.status}: ${JSON.stringify(r.json)}`);
  }
  return values;
}

/** The engine's files and the snapshots' (not the log's segments, which are allocated ahead). */
const stateBytes = (dir: string): number => {
  const seen = new Map<number, number>();
  diskBytes(join(dir, 'n1', 'engine'), seen);
  return diskBytes(join(dir, 'n1', 'snap'), seen);
};

test('a defrag gives back the space of deleted keys and keeps the rest', async (t) => {
  const { url, node, dir } = await singleNode(t, { freeBytes: async () => 100 * GIB });
  const values = await fill(url);
  // The values into the engine's last level, and a snapshot linking those files.
  const first = await call(url('/v1/maintenance/defrag'), 'POST');
  t.is(first.status, 200, JSON.stringify(first.json));
  t.true(first.json.sstBytesAfter > (KEYS * VALUE_BYTES) / 2, `${first.json.sstBytesAfter} SST bytes hold the values`);
  t.is(first.json.snapshotIndex, node.status().appliedIndex, 'the snapshot links those files');
  // Delete three keys in four: their values stay in those files.
  for (let from = 0; from < KEYS; from += 400) {
    const ops = [];
    for (let i = from; i < from + 400; i++) if (i % 4 !== 0) ops.push({ op: 'delete', key: key(i) });
    t.is((await call(url('/v1/batch'), 'POST', { ops })).status, 200);
  }
  const before = stateBytes(dir);
  t.true(before >= first.json.sstBytesAfter, `${before} bytes on disk still hold the deleted values`);

  const r = await call(url('/v1/maintenance/defrag'), 'POST');
  t.is(r.status, 200, JSON.stringify(r.json));
  t.like(r.json, { member: 1, freeBytesBefore: 100 * GIB });
  t.true(r.json.liveBytes >= (KEYS / 4) * VALUE_BYTES && r.json.liveBytes < KEYS * VALUE_BYTES, `${r.json.liveBytes} live bytes: a quarter of the values`);
  t.true(r.json.sstBytesAfter * 2 < r.json.sstBytesBefore, `SST bytes ${r.json.sstBytesBefore} → ${r.json.sstBytesAfter}`);
  t.is(r.json.snapshotIndex, node.status().snapshotIndex, 'a snapshot was cut after the compaction');
  t.true(r.json.snapshotIndex > first.json.snapshotIndex);
  const after = stateBytes(dir);
  t.true(after * 2 < before, `the engine and snapshot files went from ${before} to ${after} bytes`);

  for (let i = 0; i < KEYS; i++) {
    const got = await call(url(`/v1/kv/${key(i)}`));
    if (i % 4 === 0) t.is(got.json.value, values[i], key(i));
    else t.is(got.status, 404, key(i));
  }
});

test('with the last snapshot at the applied index, an entry of the member\'s own gives the next its index', async (t) => {
  const { url, node, port } = await singleNode(t, { freeBytes: async () => 100 * GIB });
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 1 })).status, 200);
  const first = await call(url('/v1/maintenance/defrag'), 'POST', {});
  t.is(first.json.snapshotIndex, node.status().appliedIndex, 'the defrag cut a snapshot of what was applied');
  const second = await call(url('/v1/maintenance/defrag'), 'POST');
  t.is(second.status, 200);
  t.is(second.json.snapshotIndex, first.json.snapshotIndex + 1, 'one entry more: the member announcing its address');
  t.is(node.members().addresses['1']?.client, `127.0.0.1:${port}`);

  // No entry can be committed (here: the barrier fails): the next entry applied cuts it.
  const third = await node.maintenance.defrag(100 * GIB, () => Promise.reject(new Error('no leader')));
  t.is(third.snapshotIndex, null);
  t.is((await call(url('/v1/kv/b'), 'PUT', { value: 2 })).status, 200);
  await pollUntil(async () => node.status().snapshotIndex === node.status().appliedIndex, 'the next entry to cut a snapshot');
  t.true(node.status().snapshotIndex > second.json.snapshotIndex);
  t.like((await call(url('/v1/kv/a'))).json, { value: 1 });
});

test('a defrag is refused when the disk cannot hold its output, or while one runs', async (t) => {
  const disk = { free: 100 * GIB };
  const { url, node } = await singleNode(t, { spaceReserveBytes: 0, freeBytes: async () => disk.free });
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 1 })).status, 200);
  disk.free = defragNeedsBytes(0, 0) - 1;
  const refused = await call(url('/v1/maintenance/defrag'), 'POST');
  t.is(refused.status, 507);
  t.like(refused.json.error, { code: 'no_space', freeBytes: disk.free });
  t.true(refused.json.error.neededBytes > disk.free);
  t.true(refused.json.error.liveBytes > 0, 'the key written, and the applied index');
  t.regex(refused.json.error.message, /free, .* needed/);
  t.is((await call(url('/v1/kv/a'), 'PUT', { value: 2 })).status, 200, 'writes go on');

  const bad = await call(url('/v1/maintenance/defrag'), 'POST', { force: true });
  t.is(bad.status, 400);
  t.like(bad.json.error, { code: 'invalid_body' });
  t.is((await call(url('/v1/maintenance/defrag'))).status, 405);

  // Two at once on the node itself: the second is refused before anything starts.
  const barrier = (): Promise<void> => Promise.resolve();
  const one = node.maintenance.defrag(100 * GIB, barrier);
  const two = node.maintenance.defrag(100 * GIB, barrier);
  const err = await t.throwsAsync(two);
  t.is((err as Error & { code: string }).code, 'defrag_in_progress');
  t.like(await one, { snapshotIndex: node.status().appliedIndex });
});
