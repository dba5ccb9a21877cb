/**
 * Property tests of every decoder that reads bytes from disk or the network: on arbitrary and
 * mutated input each either decodes or throws its own coded error — never a RangeError, a
 * TypeError or an out-of-bounds read. Seeded (QKV_FUZZ_SEED), bounded by a case count.
 */
import test from 'ava';
import { QuorumError } from '../../ts/errors';
import { decodeCommand, encodeCommand, Op } from '../../ts/node/commands';
import { decodeMemberChange, encodeMemberChange } from '../../ts/node/membership';
import { decodeFrameBody, encodeFrame } from '../../ts/transport/codec';
import { FrameSplitter } from '../../ts/transport/frames';
import { mulberry32, type Random } from '../../ts/raft/random';
import { MessageType } from '../../ts/raft/types';
import { ConfChangeType, EntryType } from '../../ts/raft/types';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 20261130);
const CASES = 20_000;

function randomBytes(rng: Random, max: number): Buffer {
  const out = Buffer.alloc(rng.intn(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.intn(256);
  return out;
}

/** `valid` with a few bytes flipped, cut short, or extended with garbage. */
function mutate(rng: Random, valid: Buffer): Buffer {
  const out = Buffer.from(valid);
  const kind = rng.intn(3);
  if (kind === 0) {
    for (let n = 1 + rng.intn(4); n > 0 && out.length > 0; n--) out[rng.intn(out.length)] = rng.intn(256);
    return out;
  }
  if (kind === 1) return out.subarray(0, rng.intn(out.length + 1));
  return Buffer.concat([out, randomBytes(rng, 16)]);
}

/** Runs `decode` on CASES inputs; counts decoded and refused; fails on any other throw. */
function property(t: import('ava').ExecutionContext, name: string, decode: (b: Buffer) => unknown, valid: Buffer[], codes: string[]): void {
  const rng = mulberry32(SEED);
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const input = i % 2 === 0 ? randomBytes(rng, 64) : mutate(rng, valid[rng.intn(valid.length)]);
    try {
      decode(input);
      decoded++;
    } catch (err) {
      if (!(err instanceof QuorumError) || !codes.includes(err.code)) {
        t.fail(`${name}: input ${input.toString('hex')} threw ${(err as Error).name}: ${(err as Error).message}`);
        return;
      }
      refused++;
    }
  }
  t.is(decoded + refused, CASES);
  t.log(`${name}: ${CASES} cases (seed ${SEED}): ${decoded} decoded, ${refused} refused with a coded error, 0 crashes`);
}

test('commands', (t) => {
  const valid = [
    encodeCommand({ op: Op.Put, origin: 1, seq: 2, key: 'k', value: Buffer.from('{"a":1}'), ifRevision: 3, idem: 's1:2', atMs: 5 }),
    encodeCommand({ op: Op.Txn, origin: 1, seq: 2, key: '', txn: { compare: [{ key: 'a', revision: 1, exists: true }], success: [{ kind: 'put', key: 'a', value: Buffer.from('1') }], failure: [{ kind: 'get', key: 'b' }] } }),
    encodeCommand({ op: Op.Batch, origin: 1, seq: 2, key: '', atMs: 1, items: [{ op: Op.Put, key: 'a', value: Buffer.from('1'), idem: 'x' }, { op: Op.Delete, key: 'b' }] }),
    encodeCommand({ op: Op.Session, origin: 1, seq: 2, key: '', atMs: 9 }),
    encodeCommand({ op: Op.DeleteRange, origin: 1, seq: 2, key: 'p/', limit: 10, idem: 's1:3', atMs: 9 }),
    encodeCommand({ op: Op.Put, origin: 1, seq: 2, key: 'k', value: Buffer.from('1'), atMs: 9, ttlMs: 100, ifRevision: 4 }),
    encodeCommand({ op: Op.Expire, origin: 1, seq: 2, key: '', atMs: 9 }),
  ];
  property(t, 'decodeCommand', decodeCommand, valid, ['COMMAND_INVALID', 'COMMAND_VERSION_UNSUPPORTED']);
});

test('membership changes', (t) => {
  const valid = [encodeMemberChange({ type: ConfChangeType.AddNode, nodeId: 4, origin: 1, seq: 1, peer: '127.0.0.1:9', client: '127.0.0.1:8' })];
  property(t, 'decodeMemberChange', decodeMemberChange, valid, ['COMMAND_INVALID', 'COMMAND_VERSION_UNSUPPORTED']);
});

test('peer frames', (t) => {
  const valid = [
    encodeFrame([{ type: MessageType.App, to: 2, from: 1, term: 3, logTerm: 2, index: 7, commit: 6, entries: [{ index: 8, term: 3, type: EntryType.Normal, data: Buffer.from('x') }], reject: false, rejectHint: 0, context: new Uint8Array() }]).subarray(4),
    encodeFrame([{ type: MessageType.Heartbeat, to: 2, from: 1, term: 3, logTerm: 0, index: 0, commit: 6, entries: [], reject: false, rejectHint: 0, context: new Uint8Array() }]).subarray(4),
  ];
  property(t, 'decodeFrameBody', decodeFrameBody, valid, ['PEER_FRAME_INVALID']);
  // The splitter: any byte stream either yields frames within the limit or a coded refusal.
  const rng = mulberry32(SEED);
  for (let i = 0; i < 2000; i++) {
    const splitter = new FrameSplitter(1 << 16);
    try {
      for (let n = 0; n < 8; n++) for (const body of splitter.push(randomBytes(rng, 40))) t.true(body.length <= 1 << 16);
    } catch (err) {
      t.true(err instanceof QuorumError, String(err));
    }
  }
});
