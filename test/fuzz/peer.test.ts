/**
 * The peer port under garbage: random bytes, damaged hellos (the connection's first frame, naming
 * the cluster), and — after a valid hello — lengths past the frame limit and valid frames
 * damaged until they no longer decode, each on its own connection to a live node. Every
 * undecodable frame gets its connection dropped and a logged reason; the node stays up and
 * nothing changes (applied index, term). Seeded (QKV_FUZZ_SEED). Forged frames that decode
 * (a peer impersonated) are a matter for peer authentication, not for the decoder.
 */
import { connect } from 'node:net';
import test from 'ava';
import { mulberry32, type Random } from '../../ts/raft/random';
import { MessageType, EntryType } from '../../ts/raft/types';
import { decodeFrameBody, encodeFrame } from '../../ts/transport/codec';
import { encodeHello } from '../../ts/transport/hello';
import { tempDir } from '../helpers/tmp';
import { pollUntil } from '../helpers/poll';
import { ProcCluster } from '../cluster/procs';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 11);
const CASES = 1500;

/** Sends `bytes` on a new connection; resolves true if the node closed it within `waitMs`. */
function send(port: number, bytes: Buffer, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let done = false;
    const finish = (closedByPeer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(closedByPeer);
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}

function damaged(rng: Random, frame: Buffer): Buffer {
  // Damage the body until it no longer decodes (some damage still decodes: try again).
  for (;;) {
    const body = Buffer.from(frame.subarray(4));
    for (let n = 1 + rng.intn(6); n > 0; n--) body[rng.intn(body.length)] = rng.intn(256);
    const cut = rng.intn(3) === 0 ? body.subarray(0, rng.intn(body.length)) : body;
    try {
      decodeFrameBody(cut);
    } catch {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(cut.length, 0);
      return Buffer.concat([head, cut]);
    }
  }
}

/** A hello whose kind, version or cluster id is damaged (never only its sender), then a valid frame. */
function damagedHello(rng: Random, hello: Buffer, frame: Buffer): Buffer {
  for (;;) {
    const bad = Buffer.from(hello);
    for (let n = 1 + rng.intn(3); n > 0; n--) bad[4 + rng.intn(10)] ^= 1 + rng.intn(255);
    // Two flips of one byte may cancel out: only a hello that really changed counts.
    if (!bad.subarray(4, 14).equals(hello.subarray(4, 14))) return Buffer.concat([bad, frame]);
  }
}

test('garbage on the peer port is dropped with a reason; the node stays up and unchanged', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t), 1);
  const node = await cluster.leader();
  // The node's own last write (its client address) is applied before the baseline is taken.
  await node.until((e) => e.event === 'published');
  const peerPort = Number(node.args[node.args.indexOf('--peer-listen') + 1].split(':')[1]);
  const before = (await (await fetch(node.url('/v1/cluster'))).json()) as { appliedIndex: number; term: number; clusterId: string };
  const hello = encodeHello(before.clusterId, 7);
  const rng = mulberry32(SEED);
  const valid = [
    encodeFrame([{ type: MessageType.App, to: 1, from: 7, term: before.term + 5, logTerm: 1, index: 1, commit: 9, entries: [{ index: 2, term: before.term + 5, type: EntryType.Normal, data: Buffer.from('x') }], reject: false, rejectHint: 0 }]),
    encodeFrame([{ type: MessageType.Heartbeat, to: 1, from: 7, term: before.term + 5, logTerm: 0, index: 0, commit: 9, entries: [], reject: false, rejectHint: 0 }]),
  ];
  let mustDrop = 0;
  let dropped = 0;
  for (let i = 0; i < CASES; i++) {
    const kind = i % 4;
    let bytes: Buffer;
    if (kind === 0) bytes = Buffer.concat([hello, damaged(rng, valid[rng.intn(valid.length)])]);
    else if (kind === 1) bytes = Buffer.concat([hello, Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(rng.intn(64), rng.intn(256))]);
    else if (kind === 2) bytes = Buffer.from(Array.from({ length: 1 + rng.intn(200) }, () => rng.intn(256)));
    else bytes = damagedHello(rng, hello, valid[0]);
    // All but random bytes are refused as soon as they arrive; random bytes may just be an unfinished frame.
    const refused = kind !== 2;
    if (refused) mustDrop++;
    if ((await send(peerPort, bytes, refused ? 5000 : 50)) && refused) dropped++;
  }
  t.is(dropped, mustDrop, 'every undecodable frame had its connection dropped');
  await pollUntil(() => node.events.filter((e) => e.event === 'peer_protocol_error').length >= mustDrop, 'a logged reason per dropped connection', 10_000);
  t.is((await fetch(node.url('/health'))).status, 200);
  const after = (await (await fetch(node.url('/v1/cluster'))).json()) as { appliedIndex: number; term: number };
  t.deepEqual([after.appliedIndex, after.term], [before.appliedIndex, before.term], 'nothing applied, no term change');
  const reasons = new Set(node.events.filter((e) => e.event === 'peer_protocol_error').map((e) => String(e.message).replace(/\d+/g, 'N')));
  t.log(`${CASES} cases (seed ${SEED}): ${dropped} connections dropped with a logged reason, 0 crashes; reasons: ${[...reasons].slice(0, 8).join(' | ')}`);
});
