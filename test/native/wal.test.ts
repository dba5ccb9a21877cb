import test, { type ExecutionContext } from 'ava';

import { NativeError } from '../../ts/errors';
import { Wal, type LogEntry } from '../../ts/native';
import { tempDir } from '../helpers/tmp';

/** Opens a WAL that is closed when the test ends, even if it fails (its I/O thread keeps Node alive). */
function openWal(t: ExecutionContext, dir: string, options?: Parameters<typeof Wal.open>[1]): Wal {
  const wal = Wal.open(dir, options);
  t.teardown(() => wal.close());
  return wal;
}

function entries(first: number, count: number, term = 1): LogEntry[] {
  return Array.from({ length: count }, (_, i) => ({ index: first + i, term, data: Buffer.from(`entry-${first + i}`) }));
}

test('append resolves when durable and entries read back after reopen', async (t) => {
  const dir = tempDir(t);
  const wal = openWal(t, dir);
  t.true(['io_uring', 'pwrite'].includes(wal.info().backend));
  await wal.append(entries(1, 3), { term: 1, vote: 2, commit: 1 });
  await wal.append(entries(4, 2, 2));
  t.is(wal.lastIndex(), 5);
  t.is(wal.term(5), 2);
  wal.close();

  const reopened = openWal(t, dir);
  t.deepEqual(reopened.hardState(), { term: 1, vote: 2, commit: 1 });
  const read = await reopened.entries(1, 6);
  t.deepEqual(read.map((e) => [e.index, e.term, e.data.toString()]), entries(1, 3).concat(entries(4, 2, 2)).map((e) => [e.index, e.term, e.data.toString()]));
  t.is(reopened.info().recoveredEntries, 5);
  reopened.close();
});

test('many appends issued in one turn share fdatasyncs', async (t) => {
  const wal = openWal(t, tempDir(t));
  const pending: Promise<void>[] = [];
  for (let i = 1; i <= 500; i++) pending.push(wal.append(entries(i, 1)));
  await Promise.all(pending);
  const stats = wal.stats();
  t.is(stats.entries, 500);
  t.true(stats.syncs < 500, `${stats.syncs} syncs for 500 appends`);
  wal.close();
});

test('pwrite can be chosen explicitly', async (t) => {
  const wal = openWal(t, tempDir(t), { backend: 'pwrite' });
  await wal.append(entries(1, 2));
  t.is(wal.lastIndex(), 2);
  t.is(wal.info().backend, 'pwrite');
  wal.close();
});

test('auto selects io_uring wherever the probe finds it, and says why when it falls back', async (t) => {
  const wal = openWal(t, tempDir(t), { backend: 'auto' });
  await wal.append(entries(1, 2));
  const info = wal.info();
  if (info.fallbackReason) {
    t.is(info.backend, 'pwrite');
    t.log(`io_uring unavailable here: ${info.fallbackReason}`);
  } else {
    t.is(info.backend, 'io_uring');
  }
  // The machines this project runs CI on have io_uring (kernel 6.x, no seccomp filter).
  if (process.env.QKV_EXPECT_IO_URING === '1') t.is(info.backend, 'io_uring');
  wal.close();
});

test('bad arguments fail with stable codes', async (t) => {
  const wal = openWal(t, tempDir(t), { recordBytesMax: 1024 });
  await t.throwsAsync(wal.append(entries(5, 1)), { instanceOf: NativeError, code: 'WAL_GAP' });
  await t.throwsAsync(wal.append([{ index: 1, term: 1, data: Buffer.alloc(4096) }]), { code: 'WAL_LIMIT' });
  await t.throwsAsync(wal.append([{ index: 1, term: 1, data: Buffer.from('a') }, { index: 3, term: 1, data: Buffer.from('b') }]), { code: 'WAL_INVALID_ARGUMENT' });
  await t.throwsAsync(wal.append([]), { code: 'WAL_INVALID_ARGUMENT' });
  t.throws(() => wal.term(-1), { code: 'INVALID_ARGUMENT' });
  await t.throwsAsync(wal.entries(1, 2), { code: 'WAL_GAP' });
  t.throws(() => openWal(t, tempDir(t), { backend: 'bogus' as 'auto' }), { code: 'WAL_INVALID_ARGUMENT' });
  t.is(wal.lastIndex(), 0);
  wal.close();
});

test('a conflicting append truncates the suffix', async (t) => {
  const wal = openWal(t, tempDir(t));
  await wal.append(entries(1, 5));
  await wal.append(entries(3, 1, 2));
  t.is(wal.lastIndex(), 3);
  t.is(wal.term(3), 2);
  t.is(wal.term(4), undefined);
  wal.close();
});

test('an injected fdatasync failure rejects the batch and every later append', async (t) => {
  const wal = openWal(t, tempDir(t), { failSyncAt: 1 });
  await wal.append(entries(1, 1));
  await t.throwsAsync(wal.append(entries(2, 1)), { code: 'WAL_FSYNC_FAILED' });
  await t.throwsAsync(wal.append(entries(3, 1)), { instanceOf: NativeError, code: 'WAL_FATAL' });
  t.is(wal.lastIndex(), 1);
  wal.close();
});

test('reset and compact', async (t) => {
  const wal = openWal(t, tempDir(t), { segmentBytesMax: 512 });
  for (let i = 1; i <= 40; i++) await wal.append([{ index: i, term: 1, data: Buffer.alloc(64, i) }]);
  const first = await wal.compact(20);
  t.true(first > 1 && first <= 21, `first index ${first}`);
  t.is(wal.firstIndex(), first);
  await wal.reset(1000);
  t.is(wal.firstIndex(), 1000);
  t.is(wal.lastIndex(), 999);
  await wal.append(entries(1000, 1, 3));
  t.is(wal.term(1000), 3);
  wal.close();
});
