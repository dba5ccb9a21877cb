/**
 * Pipelined persistence: `accept(ready)` lets the driver take the next Ready while the last one's
 * write is in flight; `persisted(ready)` reports it durable. Nothing may count on an entry (a
 * leader's own match, an ack) before its write is reported.
 */
import test from 'ava';
import { EntryType, MemoryStorage, MessageType, type Ready, RawNode, StateType, message, mulberry32 } from '../../ts/raft';
import { bytes } from './net';
import { coreOf } from '../helpers/core';

function node(id: number, voters: number[]): { raw: RawNode; storage: MemoryStorage } {
  const storage = MemoryStorage.withVoters(voters);
  return { storage, raw: new RawNode({ id, storage, random: mulberry32(id), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 }) };
}

function write(storage: MemoryStorage, rd: Ready): void {
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
}

test('a leader takes the next Ready while one is in flight, and commits only what was reported durable', (t) => {
  const { raw, storage } = node(1, [1]);
  raw.campaign();
  const rd1 = raw.ready();
  t.is(coreOf(raw).state, StateType.Leader);
  t.deepEqual(rd1.entries.map((e) => e.index), [1]);
  raw.accept(rd1);
  t.false(raw.hasReady(), 'the in-flight entry is not handed out again');

  raw.propose([bytes('a')]);
  const rd2 = raw.ready();
  t.deepEqual(rd2.entries.map((e) => e.index), [2], 'only what no write holds yet');
  raw.accept(rd2);
  t.is(raw.committed, 0, 'nothing durable yet, so nothing committed');

  write(storage, rd1);
  raw.persisted(rd1);
  t.is(raw.committed, 1);
  const rd3 = raw.ready();
  t.deepEqual(rd3.committedEntries.map((e) => e.index), [1], 'entry 2 is not durable: not handed out');
  t.deepEqual(rd3.entries, []);
  raw.accept(rd3);
  write(storage, rd2);
  raw.persisted(rd2);
  const rd4 = raw.ready();
  t.deepEqual(rd4.committedEntries.map((e) => [e.index, e.type]), [[2, EntryType.Normal]]);
});

test('entries a new leader replaces while their write is in flight are written again, and stay unstable until then', (t) => {
  const { raw, storage } = node(2, [1, 2, 3]);
  const app = (from: number, term: number, index: number, logTerm: number, data: string[]) =>
    message({ type: MessageType.App, to: 2, from, term, index, logTerm, commit: 0, entries: data.map((d, i) => ({ index: index + 1 + i, term, type: EntryType.Normal, data: bytes(d) })) });

  raw.step(app(1, 1, 0, 0, ['a1', 'a2', 'a3']));
  const rd1 = raw.ready();
  t.deepEqual(rd1.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1]]);
  t.deepEqual(rd1.messages.map((m) => [m.type, m.index]), [[MessageType.AppResp, 3]]);
  raw.accept(rd1);

  // Leader 3 of term 2 keeps entry 1 and replaces 2..3 while rd1's write is in flight.
  raw.step(app(3, 2, 1, 1, ['b2', 'b3']));
  const rd2 = raw.ready();
  t.deepEqual(rd2.entries.map((e) => [e.index, e.term]), [[2, 2], [3, 2]], 'the replacements are written, after rd1');
  raw.accept(rd2);

  write(storage, rd1);
  raw.persisted(rd1);
  t.is(coreOf(raw).log.unstable.offset, 1, 'rd1 made term-1 entries durable: the term-2 tail is not');
  write(storage, rd2);
  raw.persisted(rd2);
  t.is(coreOf(raw).log.unstable.offset, 4);
  t.deepEqual(storage.entries(1, 4, Infinity).map((e) => e.term), [1, 2, 2]);
});

test('a heartbeat answer does not leave early while the term it acknowledges is only accepted, not durable', (t) => {
  const { raw, storage } = node(3, [1, 2, 3]);
  const heartbeat = () => message({ type: MessageType.Heartbeat, to: 3, from: 1, term: 5, commit: 0 });
  raw.step(heartbeat());
  const rd = raw.ready();
  t.true(rd.mustSync);
  raw.accept(rd);
  raw.step(heartbeat());
  t.deepEqual(raw.takeUrgent().messages, [], 'term 5 is in a write in flight');
  write(storage, rd);
  raw.persisted(rd);
  raw.step(heartbeat());
  t.deepEqual(raw.takeUrgent().messages.map((m) => m.type), [MessageType.HeartbeatResp, MessageType.HeartbeatResp]);
});

test('a Ready with a snapshot cannot be accepted: the driver writes it the classic way', (t) => {
  const { raw } = node(2, [1, 2, 3]);
  const snap = { data: new Uint8Array(), metadata: { index: 10, term: 3, confState: { voters: [1, 2, 3], learners: [] } } };
  raw.step(message({ type: MessageType.Snap, to: 2, from: 1, term: 3, snapshot: snap }));
  const rd = raw.ready();
  t.truthy(rd.snapshot);
  t.throws(() => raw.accept(rd), { message: /snapshot/ });
});
