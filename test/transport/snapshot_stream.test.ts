/** InstallSnapshot streams over real TCP into a peer listener; waits are on events only. */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { type Message, MessageType, message } from '../../ts/raft';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../ts/transport/codec';
import { encodeHello } from '../../ts/transport/hello';
import { PeerTransport } from '../../ts/transport/peer';
import { SnapshotStore } from '../../ts/node/snapshots';
import { PART_CHUNK, PART_END, PART_HEADER, sendSnapshot, snapshotFrame } from '../../ts/transport/snapshot_stream';
import { tempDir } from '../helpers/tmp';

const HOST = '127.0.0.1';
const CLUSTER = '00000000000000c1';

const snapMsg = (index: number): Message =>
  message({ type: MessageType.Snap, to: 2, from: 1, term: 3, snapshot: { metadata: { index, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from(String(index)) } });

interface Outcome {
  committed?: string;
  discarded?: string;
  reason?: Error & { code?: string };
  msg?: Message;
}

/**
 * A receiving transport over a real SnapshotStore; resolves `outcome` with the committed
 * directory, or the discarded one and the reason. `snapDir` is where the store keeps snapshots.
 */
async function receiver(t: ExecutionContext, snapshotBytesMax = 1 << 30) {
  const store = new SnapshotStore(tempDir(t));
  let settle!: (v: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => (settle = r));
  const transport = new PeerTransport({
    id: 2,
    clusterId: CLUSTER,
    listen: { host: HOST, port: 0 },
    peers: new Map(),
    onMessages: () => undefined,
    snapshots: {
      snapshotBytesMax,
      begin: (msg) => store.receiving(msg.snapshot!.metadata.index),
      commit: (msg, dir) => settle({ committed: dir, msg }),
      discard: (dir, reason) => {
        if (dir) store.discard(dir);
        settle({ discarded: dir ?? '', reason });
      },
    },
  });
  const port = await transport.start();
  t.teardown(() => transport.close());
  return { port, outcome, snapDir: store.dir };
}

function makeSnapshotDir(t: ExecutionContext): { dir: string; files: { name: string; size: number }[] } {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'engine'));
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  writeFileSync(join(dir, 'engine', 'big.sst'), big);
  writeFileSync(join(dir, 'engine', 'EMPTY'), '');
  writeFileSync(join(dir, 'engine', 'small'), 'hello');
  writeFileSync(join(dir, 'meta.json'), '{"index":42}');
  const files = ['engine/EMPTY', 'engine/big.sst', 'engine/small', 'meta.json'].map((name) => ({ name, size: readFileSync(join(dir, name)).length }));
  return { dir, files };
}

test('a snapshot streams in chunks (empty files included) and arrives byte for byte with its message', async (t) => {
  const { port, outcome } = await receiver(t);
  const { dir, files } = makeSnapshotDir(t);
  await sendSnapshot({ host: HOST, port }, snapMsg(42), dir, files, { clusterId: CLUSTER, chunkBytes: 256 * 1024 });
  const res = await outcome;
  t.truthy(res.committed);
  t.is(res.msg?.snapshot?.metadata.index, 42);
  for (const f of files) t.deepEqual(readFileSync(join(res.committed!, f.name)), readFileSync(join(dir, f.name)), f.name);
  t.deepEqual(readdirSync(join(res.committed!, 'engine')).sort(), ['EMPTY', 'big.sst', 'small']);
});

/** The refusal's code and message, and nothing of the stream left in the snapshot directory. */
async function refused(t: ExecutionContext, outcome: Promise<Outcome>, snapDir: string, code: string, message: RegExp): Promise<void> {
  const res = await outcome;
  t.is(res.committed, undefined);
  t.is(res.reason?.code, code);
  t.regex(res.reason?.message ?? '', message);
  t.deepEqual(readdirSync(snapDir), [], 'no snapshot or partial files remain');
}

test('a snapshot over snapshotBytesMax is refused and the sender learns it', async (t) => {
  const { port, outcome, snapDir } = await receiver(t, 1024);
  const { dir, files } = makeSnapshotDir(t);
  await t.throwsAsync(sendSnapshot({ host: HOST, port }, snapMsg(42), dir, files, { clusterId: CLUSTER }));
  await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /exceeds snapshotBytesMax 1024/);
});

/** Writes raw frames on a fresh connection and resolves with the receiver's one-byte verdict. */
function rawStream(port: number, frames: Buffer[]): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    let verdict: number | undefined;
    s.on('data', (b: Buffer) => (verdict ??= b[0]));
    s.on('close', () => resolve(verdict));
    s.on('error', () => undefined);
    s.on('connect', () => {
      s.write(encodeHello(CLUSTER, 1));
      for (const f of frames) s.write(f);
    });
  });
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

function header(files: { name: string; size: number }[]): Buffer {
  const msg = encodeFrame([snapMsg(7)]).subarray(FRAME_HEADER_BYTES);
  return snapshotFrame(PART_HEADER, [u32(msg.length), msg, Buffer.from(JSON.stringify(files))]);
}

const files = [{ name: 'a', size: 4 }];

test('a checksum mismatch discards the snapshot', async (t) => {
  const { port, outcome, snapDir } = await receiver(t);
  t.is(await rawStream(port, [header(files), snapshotFrame(PART_CHUNK, [u32(0), Buffer.from('abcd')]), snapshotFrame(PART_END, [u32(12345)])]), 0);
  await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /checksum mismatch/);
});

test('a file shorter than announced discards the snapshot', async (t) => {
  const { port, outcome, snapDir } = await receiver(t);
  t.is(await rawStream(port, [header(files), snapshotFrame(PART_CHUNK, [u32(0), Buffer.from('ab')]), snapshotFrame(PART_END, [u32(0)])]), 0);
  await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /ended early/);
});

test('a path escaping the snapshot directory is refused before anything is written', async (t) => {
  const { port, outcome, snapDir } = await receiver(t);
  t.is(await rawStream(port, [header([{ name: '../escape', size: 1 }])]), 0);
  await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /bad snapshot manifest entry/);
  t.false(existsSync(join(snapDir, '..', 'escape')));
});

test('a connection dropped mid-file discards the snapshot', async (t) => {
  const { port, outcome, snapDir } = await receiver(t);
  const s = createConnection({ host: HOST, port });
  s.on('error', () => undefined);
  s.on('connect', () => {
    s.write(encodeHello(CLUSTER, 1));
    s.write(header(files));
    s.end(snapshotFrame(PART_CHUNK, [u32(0), Buffer.from('ab')]));
  });
  await refused(t, outcome, snapDir, 'SNAPSHOT_INVALID', /ended early/);
});

test('a manifest that is not a JSON list of files is refused with PEER_FRAME_INVALID', async (t) => {
  const msg = encodeFrame([snapMsg(7)]).subarray(FRAME_HEADER_BYTES);
  for (const manifest of ['not json', '{"name":"a"}', '[{"name":"a","size":-1}]']) {
    const { port, outcome, snapDir } = await receiver(t);
    t.is(await rawStream(port, [snapshotFrame(PART_HEADER, [u32(msg.length), msg, Buffer.from(manifest)])]), 0, manifest);
    await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /manifest/);
  }
});

test('a chunk frame too short to name its file is refused with PEER_FRAME_INVALID', async (t) => {
  const { port, outcome, snapDir } = await receiver(t);
  t.is(await rawStream(port, [header(files), snapshotFrame(PART_CHUNK, [Buffer.from([1, 0])])]), 0);
  await refused(t, outcome, snapDir, 'PEER_FRAME_INVALID', /ends inside file/);
});

test('a snapshot stream from another cluster is refused before a directory is begun', async (t) => {
  const { port, snapDir } = await receiver(t);
  const { dir, files } = makeSnapshotDir(t);
  const err = await t.throwsAsync(sendSnapshot({ host: HOST, port }, snapMsg(42), dir, files, { clusterId: '00000000000000c2' }));
  t.regex(err?.message ?? '', /closed before the receiver confirmed|ECONNRESET|EPIPE/);
  t.deepEqual(readdirSync(snapDir), [], 'nothing was written');
});
