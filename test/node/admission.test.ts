/**
 * Bounded queues: proposals and reads in flight, and the applier's backlog, each with a named
 * limit; a request over a limit is refused as 503 `overloaded` before anything is proposed.
 */
import test from 'ava';
import { admissionError } from '../../ts/node/admission';
import { Applier } from '../../ts/node/applier';
import { encodeCommand, Op } from '../../ts/node/commands';
import { initialRecord } from '../../ts/node/membership';
import type { Engine } from '../../ts/native';
import { type Entry, EntryType } from '../../ts/raft/types';
import { singleNode } from '../helpers/single_node';

const put = (key: string) => ({ op: Op.Put, key, value: Buffer.from('1') });

test('proposals beyond proposalsPendingMax are refused as overloaded; those admitted are applied', async (t) => {
  const { node } = await singleNode(t, { proposalsPendingMax: 2 }, false);
  const a = node.propose(put('a'));
  const b = node.propose(put('b'));
  const refused = await t.throwsAsync(node.propose(put('c')));
  t.is((refused as { code?: string }).code, 'overloaded');
  t.is((refused as { status?: number }).status, 503);
  t.like(await a, { kind: 'put' });
  t.like(await b, { kind: 'put' });
  t.is(node.engine.get('c'), undefined, 'the refused write was never applied');
  // Once answered, the slots are free again.
  t.like(await node.propose(put('d')), { kind: 'put' });
});

test('reads beyond readsPendingMax are refused as overloaded', async (t) => {
  const { node } = await singleNode(t, { readsPendingMax: 1 }, false);
  const first = node.readBarrier();
  await t.throwsAsync(node.readBarrier(), { code: 'overloaded' } as never);
  await first;
  await node.readBarrier();
  t.pass();
});

/** An engine whose applies complete only when the test releases them, one at a time. */
function heldEngine() {
  const held: (() => void)[] = [];
  let onHeld: (() => void) | undefined;
  let applied = 0;
  const engine = {
    appliedIndex: () => applied,
    get: () => undefined,
    // Every batch goes to the "pool": held until released.
    applyHere: () => undefined,
    cacheApplied: () => undefined,
    applyPacked: (_packed: Buffer, index: number) =>
      new Promise<number>((resolve) => {
        held.push(() => {
          applied = index;
          resolve(index);
        });
        onHeld?.();
      }),
  } as unknown as Engine;
  /** Waits for the applier's next engine call, then lets it complete. */
  const releaseNext = async () => {
    if (held.length === 0) await new Promise<void>((resolve) => (onHeld = resolve));
    held.shift()!();
  };
  return { engine, releaseNext };
}

const entry = (index: number, bytes: number): Entry => ({ index, term: 1, type: EntryType.Normal, data: encodeCommand({ ...put(`k${index}`), value: Buffer.alloc(bytes, 0x31), origin: 1, seq: index }) });

test('the applier reports overload past backlogBytesMax and drains below half of it', async (t) => {
  const { engine, releaseNext } = heldEngine();
  const applier = new Applier(engine, initialRecord({ voters: [1], learners: [] }), () => undefined, (err) => t.fail(err.message), 14_000);
  const bytes = entry(1, 3000).data.length; // ~3 KB per entry
  t.true(bytes > 3000 && bytes < 3100);
  for (let i = 1; i <= 4; i++) applier.push([entry(i, 3000)]);
  t.false(applier.overloaded, '4 entries queued: under 14 KB');
  applier.push([entry(5, 3000)]);
  t.true(applier.overloaded, '5 entries queued: over 14 KB');
  let drained = false;
  const draining = applier.drained().then(() => (drained = true));
  for (let i = 1; i <= 2; i++) {
    await releaseNext();
    await applier.waitFor(i);
    t.false(drained, `${5 - i} entries left: more than half the limit`);
  }
  t.false(applier.overloaded);
  await releaseNext();
  await applier.waitFor(3);
  await draining;
  t.true(drained, 'two entries left: at most half the limit');
});

test('admission refuses in the order of causes, and only writes for an overloaded applier', (t) => {
  const base = { fatal: undefined, stopped: false, removed: false, applyOverloaded: false, proposals: () => undefined, reads: () => undefined };
  const code = (e: Error | undefined) => (e as { code?: string } | undefined)?.code;
  t.is(admissionError({ ...base, kind: 'write' }), undefined);
  t.is(code(admissionError({ ...base, kind: 'write', applyOverloaded: true })), 'overloaded');
  t.is(admissionError({ ...base, kind: 'read', applyOverloaded: true }), undefined);
  t.is(code(admissionError({ ...base, kind: 'read', removed: true, fatal: Object.assign(new Error('x'), { code: 'WAL_FSYNC_FAILED' }) })), 'unavailable');
  t.regex(admissionError({ ...base, kind: 'read', fatal: Object.assign(new Error('x'), { code: 'WAL_FSYNC_FAILED' }) })!.message, /WAL_FSYNC_FAILED/);
  t.regex(admissionError({ ...base, kind: 'control', removed: true })!.message, /removed/);
  t.regex(admissionError({ ...base, kind: 'control', stopped: true })!.message, /shutting down/);
});
