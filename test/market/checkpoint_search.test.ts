/**
 * The newest usable book checkpoint is found by a binary search over the checkpoints' keys:
 * for every cut-off, in venue time and in seq, it is the one a pass over all of them finds —
 * for book reads and replays (history.ts), and for purges (purge.ts: pages of keys).
 */
import test from 'ava';
import { newestCheckpoint } from '../../ts/market/history';
import { Retention } from '../../ts/market/purge';
import { BOOK_SEQ_OFFSET, BOOK_TS_OFFSET } from '../../ts/market/records';
import { checkpointsPrefix } from '../../ts/market/state';
import { Engine } from '../../ts/native';
import { tempDir } from '../helpers/tmp';

/** A stand-in stored book: only its seq and venue time matter to the search. */
function book(seq: bigint, ts: bigint): Buffer {
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(seq, BOOK_SEQ_OFFSET);
  b.writeBigUInt64LE(ts, BOOK_TS_OFFSET);
  return b;
}

test('the binary search over checkpoints finds what a pass over all of them finds', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const id = 7;
  // 37 checkpoints (an odd count), some sharing a venue time; another instrument's around them.
  const stored: { seq: bigint; ts: bigint }[] = [];
  for (let i = 0; i < 37; i++) stored.push({ seq: BigInt((i + 1) * 5000 + 3), ts: 1_000n + BigInt(Math.floor(i / 2) * 10) });
  const key = (inst: number, seq: bigint) => `${checkpointsPrefix(inst)}${seq.toString().padStart(20, '0')}`;
  await engine.apply(
    [...stored.map(({ seq, ts }) => ({ op: 'put' as const, key: key(id, seq), value: book(seq, ts) })), { op: 'put' as const, key: key(6, 1n), value: book(1n, 0n) }, { op: 'put' as const, key: key(8, 1n), value: book(1n, 0n) }],
    1,
  );
  const linear = (usable: (seq: bigint, ts: bigint) => boolean) => [...stored].reverse().find(({ seq, ts }) => usable(seq, ts))?.seq;
  for (let cut = 990n; cut <= 1_200n; cut += 5n) {
    const usable = (_seq: bigint, ts: bigint) => ts < cut;
    t.is((await newestCheckpoint(engine, id, usable))?.seq, linear(usable), `venue time before ${cut}`);
  }
  for (const { seq } of [{ seq: 0n }, ...stored, { seq: 10n ** 9n }]) {
    for (const cut of [seq - 1n, seq, seq + 1n]) {
      const usable = (s: bigint) => s <= cut;
      const found = await newestCheckpoint(engine, id, usable);
      t.is(found?.seq, linear(usable), `seq at or before ${cut}`);
      if (found) t.is(found.book.readBigUInt64LE(BOOK_SEQ_OFFSET), found.seq, 'the book read is the one found');
    }
  }
  t.is(await newestCheckpoint(engine, 9, () => true), undefined, 'an instrument without checkpoints');
});

test('a purge finds the same checkpoint, across pages of keys, from the start or from a kept base', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const id = 3;
  // 600 checkpoints (past two pages of the search), venue times rising, some equal.
  const stored = Array.from({ length: 600 }, (_, i) => ({ seq: BigInt((i + 1) * 5000 + 7), ts: 10_000n + BigInt(Math.floor(i / 3) * 10) }));
  await engine.apply(stored.map(({ seq, ts }) => ({ op: 'put' as const, key: `${checkpointsPrefix(id)}${seq.toString().padStart(20, '0')}`, value: book(seq, ts) })), 1);
  const linear = (cut: bigint, from = 0n) => [...stored].reverse().find((c) => c.ts < cut && c.seq >= from);
  const rising = Retention.empty();
  for (let cut = 9_990n; cut <= 12_100n; cut += 7n) {
    const expected = linear(cut);
    const fresh = Retention.empty().purge(engine, id, cut, []);
    t.is(fresh?.seq, expected?.seq, `from the start, before ${cut}`);
    // The same Retention over rising cuts searches from its kept base (the ops are not applied).
    const kept = rising.keptFromOf(id);
    const moved = rising.purge(engine, id, cut, []);
    t.is(moved?.seq, kept !== undefined && expected?.seq === kept.seq ? undefined : expected?.seq, `from the kept base, before ${cut}`);
  }
});
