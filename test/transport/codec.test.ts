import test from 'ava';
import { EntryType, type Message, MessageType } from '../../ts/raft';
import { mulberry32 } from '../../ts/raft/random';
import { CodecError, decodeFrameBody, encodeFrame, MESSAGE_TYPE_CODES } from '../../ts/transport/codec';
import { FrameSplitter } from '../../ts/transport/frames';

const TYPES = Object.values(MessageType);

function randomMessage(rand: ReturnType<typeof mulberry32>): Message {
  const big = () => (rand.next() < 0.1 ? Number.MAX_SAFE_INTEGER - rand.intn(1000) : rand.intn(1_000_000));
  const bytes = (max: number) => Uint8Array.from({ length: rand.intn(max) }, () => rand.intn(256));
  const m: Message = {
    type: TYPES[rand.intn(TYPES.length)],
    to: 1 + rand.intn(5),
    from: 1 + rand.intn(5),
    term: big(),
    logTerm: big(),
    index: big(),
    commit: big(),
    reject: rand.next() < 0.5,
    rejectHint: big(),
    entries: Array.from({ length: rand.intn(4) }, () => ({
      index: big(),
      term: big(),
      type: rand.next() < 0.8 ? EntryType.Normal : EntryType.ConfChange,
      data: bytes(300),
    })),
  };
  if (rand.next() < 0.3) m.context = bytes(16);
  if (rand.next() < 0.1) {
    m.snapshot = { metadata: { index: big(), term: big(), confState: { voters: [1, 2, 3], learners: rand.next() < 0.5 ? [4] : [] } }, data: bytes(1000) };
  }
  return m;
}

/** Decoded byte fields are views into the frame; compare them as plain arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

test('every message type round-trips through a frame, with all optional parts', (t) => {
  const rand = mulberry32(7);
  for (let round = 0; round < 200; round++) {
    const msgs = Array.from({ length: rand.intn(20) }, () => randomMessage(rand));
    const frame = encodeFrame(msgs);
    t.is(frame.readUInt32LE(0), frame.length - 4);
    t.deepEqual(decodeFrameBody(frame.subarray(4)).map(plain), msgs.map(plain));
  }
});

test('the splitter reassembles frames from arbitrary chunking', (t) => {
  const rand = mulberry32(11);
  const batches = Array.from({ length: 50 }, () => Array.from({ length: 1 + rand.intn(5) }, () => randomMessage(rand)));
  const stream = Buffer.concat(batches.map(encodeFrame));
  const splitter = new FrameSplitter(1 << 20);
  const got: Message[][] = [];
  for (let at = 0; at < stream.length; ) {
    const n = 1 + rand.intn(700);
    for (const body of splitter.push(stream.subarray(at, at + n))) got.push(decodeFrameBody(body));
    at += n;
  }
  t.deepEqual(got.map((b) => b.map(plain)), batches.map((b) => b.map(plain)));
});

test('truncated, oversized and foreign frames are rejected with PEER_FRAME_INVALID', (t) => {
  const frame = encodeFrame([randomMessage(mulberry32(3))]);
  const body = frame.subarray(4);
  for (let cut = 0; cut < body.length; cut++) {
    t.throws(() => decodeFrameBody(body.subarray(0, cut)), { instanceOf: CodecError, code: 'PEER_FRAME_INVALID' } as never);
  }
  const wrongVersion = Buffer.from(body);
  wrongVersion[0] = 99;
  t.throws(() => decodeFrameBody(wrongVersion), { message: /wire version 99/ });
  const hugeCount = Buffer.from(body);
  hugeCount.writeUInt32LE(0xffffffff, 1);
  t.throws(() => decodeFrameBody(hugeCount), { message: /cannot fit/ });
  t.throws(() => new FrameSplitter(16).push(frame), { message: /exceeds frameBytesMax 16/ });
  t.throws(() => encodeFrame([{ ...randomMessage(mulberry32(4)), term: -1 }]), { instanceOf: CodecError });
});

test('message type wire codes are pinned (reordering MessageType must not change the protocol)', (t) => {
  const pinned: [MessageType, number][] = [
    [MessageType.Hup, 0], [MessageType.Beat, 1], [MessageType.Prop, 2], [MessageType.App, 3], [MessageType.AppResp, 4],
    [MessageType.Vote, 5], [MessageType.VoteResp, 6], [MessageType.PreVote, 7], [MessageType.PreVoteResp, 8], [MessageType.Snap, 9],
    [MessageType.Heartbeat, 10], [MessageType.HeartbeatResp, 11], [MessageType.Unreachable, 12], [MessageType.SnapStatus, 13],
    [MessageType.CheckQuorum, 14], [MessageType.TransferLeader, 15], [MessageType.TimeoutNow, 16], [MessageType.ReadIndex, 17],
    [MessageType.ReadIndexResp, 18], [MessageType.Removed, 19],
  ];
  t.is(pinned.length, Object.values(MessageType).length, 'every message type has a pinned code');
  for (const [type, code] of pinned) {
    t.is(MESSAGE_TYPE_CODES[type], code, type);
    // The byte on the wire: after the length (4), the version (1) and the count (4).
    const frame = encodeFrame([{ ...randomMessage(mulberry32(code)), type, entries: [], context: undefined, snapshot: undefined }]);
    t.is(frame[9], code, `${type} travels as ${code}`);
  }
});
