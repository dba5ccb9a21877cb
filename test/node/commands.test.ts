import test from 'ava';
import { type Command, COMMAND_VERSION, decodeCommand, encodeCommand, Op, splitForApply } from '../../ts/node/commands';
import { decodeMemberChange, encodeMemberChange, MEMBER_CHANGE_VERSION } from '../../ts/node/membership';
import { ConfChangeType, EntryType } from '../../ts/raft/types';

// (A decoded batch item's `raw` and a batch's `itemsRaw`, their bytes in the entry, are checked by the idempotency tests and below.)
const plain = (c: Command) => JSON.parse(JSON.stringify(c, (k, v) => (k === 'raw' || k === 'itemsRaw' ? undefined : v && v.type === 'Buffer' ? Buffer.from(v.data).toString() : v)));

test('commands round-trip through their binary form', (t) => {
  const cases: Command[] = [
    { op: Op.Put, origin: 3, seq: 2 ** 40, key: 'book/AAPL', value: Buffer.from('{"bid":1}') },
    { op: Op.Put, origin: 1, seq: 7, key: 'ü', value: Buffer.from('0'), ifRevision: 0 },
    { op: Op.Delete, origin: 2, seq: 1, key: 'k', ifRevision: 99 },
    {
      op: Op.Txn,
      origin: 1,
      seq: 5,
      key: '',
      txn: {
        compare: [{ key: 'a', revision: 4, value: Buffer.from('"x"'), exists: true }, { key: 'b', exists: false }],
        success: [{ kind: 'put', key: 'a', value: Buffer.from('1') }, { kind: 'delete', key: 'b' }],
        failure: [{ kind: 'get', key: 'a' }],
      },
      idem: 'retry-key-1',
      atMs: 1_790_000_000_000,
    },
    { op: Op.Put, origin: 4, seq: 9, key: 'k', value: Buffer.from('1'), idem: 's12:7', atMs: 5 },
    { op: Op.Session, origin: 1, seq: 2, key: '', atMs: 1_790_000_000_000 },
    {
      op: Op.Batch,
      origin: 1,
      seq: 3,
      key: '',
      atMs: 7,
      items: [
        { op: Op.Put, key: 'a', value: Buffer.from('[1]'), ifRevision: 3, idem: 's1:1' },
        { op: Op.Delete, key: 'b', value: undefined, ifRevision: undefined, idem: undefined },
      ],
    },
    { op: Op.Incr, origin: 2, seq: 4, key: 'n', value: Buffer.from('-3') },
    { op: Op.SetTtl, origin: 2, seq: 8, key: 'n', atMs: 3, ttlMs: 1000 },
    { op: Op.SetTtl, origin: 2, seq: 9, key: 'n' },
    { op: Op.MdPurge, origin: 2, seq: 10, key: '1700000000000000000' },
    { op: Op.Alarm, origin: 2, seq: 12, key: '2 raise 1048576 536870912' },
    { op: Op.Hash, origin: 3, seq: 13, key: '' },
    { op: Op.Txn, origin: 2, seq: 7, key: '', txn: { compare: [], success: [{ kind: 'incr', key: 'n', by: -9007199254740991 }, { kind: 'put', key: 'p', value: Buffer.from('1') }], failure: [] } },
    { op: Op.Incr, origin: 2, seq: 5, key: 'n', value: Buffer.from('1'), idem: 'i1', atMs: 9, ttlMs: 60_000 },
    { op: Op.Batch, origin: 1, seq: 6, key: '', atMs: 7, items: [{ op: Op.Incr, key: 'c', value: Buffer.from('2'), ifRevision: undefined, idem: undefined, ttlMs: 1000 }] },
    { op: Op.Txn, origin: 2, seq: 11, key: '', txn: { compare: [{ key: 'p', value: Buffer.from('1000'), cmp: '<' }, { key: 'q', revision: 3, cmp: '!=' }, { key: 'r', revision: 0, cmp: '>=', exists: true }], success: [], failure: [] } },
  ];
  for (const c of cases) t.deepEqual(plain(decodeCommand(encodeCommand(c))), plain({ value: undefined, ifRevision: undefined, ...c }));
});

test('a malformed command is a COMMAND_INVALID error at every truncation', (t) => {
  const batch = encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', atMs: 1, items: [{ op: Op.Put, key: 'a', value: Buffer.from('1'), idem: 'k' }] });
  for (let cut = 0; cut < batch.length; cut++) t.throws(() => decodeCommand(batch.subarray(0, cut)), { code: 'COMMAND_INVALID' } as never);
  const full = encodeCommand({ op: Op.Txn, origin: 1, seq: 1, key: '', txn: { compare: [{ key: 'a', revision: 1 }], success: [{ kind: 'put', key: 'a', value: Buffer.from('2') }], failure: [] } });
  for (let cut = 0; cut < full.length; cut++) t.throws(() => decodeCommand(full.subarray(0, cut)), { code: 'COMMAND_INVALID' } as never);
  const bad = Buffer.from(full);
  bad[1] = 16;
  t.throws(() => decodeCommand(bad), { code: 'COMMAND_INVALID', message: /unknown op 16/ } as never);
  t.throws(() => decodeCommand(Buffer.concat([full, Buffer.from([0])])), { code: 'COMMAND_INVALID' } as never);
});

test('a command starts with its format version; an unknown version is COMMAND_VERSION_UNSUPPORTED', (t) => {
  const full = encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'k', value: Buffer.from('1') });
  t.is(full[0], 1);
  const future = Buffer.from(full);
  future[0] = COMMAND_VERSION + 1;
  t.throws(() => decodeCommand(future), { code: 'COMMAND_VERSION_UNSUPPORTED' } as never);
});

test('a batch with one idempotency key is written as version 2, a range delete as version 3, a TTL as version 4, every other command as version 1', (t) => {
  t.is(encodeCommand({ op: Op.Expire, origin: 1, seq: 1, key: '', atMs: 1 })[0], 4);
  t.is(encodeCommand({ op: Op.DeleteRange, origin: 1, seq: 1, key: 'p/', limit: 1 })[0], 3);
  const items = [{ op: Op.Put, key: 'a', value: Buffer.from('1') }, { op: Op.Delete, key: 'b' }] as Command['items'];
  const keyed: Command = { op: Op.Batch, origin: 1, seq: 2, key: '', atMs: 5, idem: 's3:4', items };
  const bytes = encodeCommand(keyed);
  t.is(bytes[0], 2);
  const decoded = decodeCommand(bytes);
  t.deepEqual(plain(decoded), plain(keyed));
  // Its fingerprint is taken over the items' bytes as they lie in the entry: the same without the key.
  t.deepEqual(decoded.itemsRaw, decodeCommand(encodeCommand({ ...keyed, idem: undefined })).itemsRaw);
  t.is(encodeCommand({ ...keyed, idem: undefined })[0], 1);
  t.is(encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'k', value: Buffer.from('1'), idem: 'k1', atMs: 1 })[0], 1);
  // Version 1 never wrote a keyed batch (it ignored the key): one claiming to is malformed.
  const old = Buffer.from(bytes);
  old[0] = 1;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 1 batch/ } as never);
});

test('an increment, alone, in a batch or in a txn, is written as version 5; an older version claiming one is malformed', (t) => {
  const alone = encodeCommand({ op: Op.Incr, origin: 1, seq: 1, key: 'n', value: Buffer.from('1') });
  const inBatch = encodeCommand({ op: Op.Batch, origin: 1, seq: 1, key: '', items: [{ op: Op.Put, key: 'a', value: Buffer.from('1') }, { op: Op.Incr, key: 'n', value: Buffer.from('1') }] });
  const inTxn = encodeCommand({ op: Op.Txn, origin: 1, seq: 1, key: '', txn: { compare: [], success: [{ kind: 'incr', key: 'n', by: 2 }], failure: [] } });
  const ttlChange = encodeCommand({ op: Op.SetTtl, origin: 1, seq: 1, key: 'n', atMs: 1, ttlMs: 5 });
  for (const bytes of [alone, inBatch, inTxn, ttlChange]) {
    t.is(bytes[0], 5);
    const old = Buffer.from(bytes);
    old[0] = 4;
    t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 4/ } as never);
  }
});

test('a txn with an ordered compare is written as version 6 (equality alone keeps its old version); an older version claiming one is malformed', (t) => {
  const txn = (cmp: '=' | '<') => encodeCommand({ op: Op.Txn, origin: 1, seq: 1, key: '', txn: { compare: [{ key: 'p', value: Buffer.from('5'), cmp }], success: [], failure: [] } });
  t.is(txn('=')[0], 1);
  t.is(decodeCommand(txn('=')).txn?.compare[0].cmp, undefined);
  const ordered = txn('<');
  t.is(ordered[0], 6);
  const old = Buffer.from(ordered);
  old[0] = 5;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 5 txn with an ordered compare/ } as never);
});

test('a disk alarm is written as version 7; an older version claiming one is malformed', (t) => {
  const alarm = encodeCommand({ op: Op.Alarm, origin: 1, seq: 1, key: '3 clear' });
  t.is(alarm[0], 7);
  const old = Buffer.from(alarm);
  old[0] = 6;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 6 alarm/ } as never);
});

test('a hash is written as version 8, and ends its write batch as a purge begins one', (t) => {
  const hash = encodeCommand({ op: Op.Hash, origin: 1, seq: 1, key: '' });
  t.is(hash[0], 8);
  const old = Buffer.from(hash);
  old[0] = 7;
  t.throws(() => decodeCommand(old), { code: 'COMMAND_INVALID', message: /version 7 hash/ } as never);
  const put = encodeCommand({ op: Op.Put, origin: 1, seq: 1, key: 'k', value: Buffer.from('1') });
  const purge = encodeCommand({ op: Op.MdPurge, origin: 1, seq: 1, key: '5' });
  const entries = [put, hash, put, purge, put, hash, hash, put].map((data, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data }));
  const parts = splitForApply(entries).map((p) => p.map((e) => e.index));
  t.deepEqual(parts, [[1, 2], [3], [4, 5, 6], [7], [8]]);
  t.deepEqual(splitForApply(entries.slice(0, 2)).map((p) => p.map((e) => e.index)), [[1, 2]], 'no empty part after a final hash');
});

test('a membership change starts with its format version; an unknown version is refused', (t) => {
  const change = { type: ConfChangeType.AddLearnerNode, nodeId: 4, origin: 9, seq: 2 ** 40, peer: '127.0.0.1:7104', client: '' };
  const encoded = encodeMemberChange(change);
  t.deepEqual(decodeMemberChange(encoded), change);
  t.is(encoded[0], MEMBER_CHANGE_VERSION);
  const future = Buffer.from(encoded);
  future[0] = 7;
  t.throws(() => decodeMemberChange(future), { code: 'COMMAND_VERSION_UNSUPPORTED' } as never);
});
