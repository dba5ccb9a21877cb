/**
 * The kept-key index against a plain Map, op for op: session keys in order, out of order,
 * skipping numbers and going back, mixed with opaque keys; dropped in the order they were kept
 * (as the table drops them). Every lookup agrees, and a window's span stays within its limit.
 */
import test from 'ava';
import { KeySlots, SeqWindow, type SessionPart, type Slot, SPAN_SLACK } from '../../ts/node/idempotency_slots';
import { openGroup } from '../../ts/node/idempotency_records';
import { mulberry32 } from '../../ts/raft/random';

const part = (key: string): SessionPart => {
  const m = /^(s\d+):(\d+)$/.exec(key);
  return m ? [m[1], Number(m[2])] : undefined;
};

test('a window keeps seqs in order and out, trims its front as they drop, and refuses what would stretch it', (t) => {
  const w = new SeqWindow<string>();
  t.true(w.set(10, 'a'));
  t.true(w.set(12, 'c'));
  t.true(w.set(11, 'b'));
  t.false(w.set(9, 'older'), 'older than every kept seq: the caller keeps it elsewhere');
  t.false(w.set(12 + 2 * 4 + SPAN_SLACK, 'far'), 'too far ahead for 3 kept seqs');
  t.deepEqual([9, 10, 11, 12, 13].map((s) => w.get(s)), [undefined, 'a', 'b', 'c', undefined]);
  t.true(w.delete(11));
  t.false(w.delete(11));
  t.true(w.delete(10));
  t.is(w.span, 1, 'the front is trimmed up to the first kept seq');
  t.true(w.delete(12));
  t.true(w.set(5, 'fresh'), 'an empty window starts again anywhere');
  t.is(w.get(5), 'fresh');
});

for (const pattern of ['dense', 'shuffled', 'sparse', 'descending'] as const) {
  test(`the index answers as a Map does, ${pattern} seqs and opaque keys`, (t) => {
    const rnd = mulberry32(pattern.length * 97);
    const slots = new KeySlots();
    const model = new Map<string, Slot>();
    const fifo: string[] = [];
    const g = openGroup(1, 0);
    const seqs = Array.from({ length: 3000 }, (_, i) => i + 1);
    if (pattern === 'shuffled') for (let i = 0; i < seqs.length; i++) { const j = i + Math.floor(rnd.next() * Math.min(20, seqs.length - i)); [seqs[i], seqs[j]] = [seqs[j], seqs[i]]; }
    if (pattern === 'sparse') for (let i = 1; i < seqs.length; i++) seqs[i] = seqs[i - 1] + 1 + Math.floor(rnd.next() * 5) * (rnd.next() < 0.05 ? 1000 : 1);
    if (pattern === 'descending') seqs.reverse();
    const keep = 200;
    let opaque = 0;
    for (const [n, seq] of seqs.entries()) {
      const key = rnd.next() < 0.1 ? `op-${opaque++}` : `s${1 + (n % 3)}:${seq}`;
      if (model.has(key)) continue;
      const slot = { g, i: n };
      slots.set(key, part(key), slot);
      model.set(key, slot);
      fifo.push(key);
      while (fifo.length > keep) {
        const old = fifo.shift()!;
        slots.delete(old, part(old));
        model.delete(old);
      }
      if (n % 97 === 0) {
        for (const k of [...fifo.slice(-50), `s1:${seq - 1}`, `s2:${seq + 1}`, 'op-0']) t.is(slots.get(k, part(k)), model.get(k), k);
        t.is(slots.size, model.size);
      }
    }
    for (const k of fifo) t.is(slots.get(k, part(k)), model.get(k));
  });
}

test('a window never spans more than twice its kept keys plus the slack', (t) => {
  const rnd = mulberry32(5);
  const w = new SeqWindow<number>();
  const kept: number[] = [];
  let seq = 0;
  for (let n = 0; n < 20_000; n++) {
    seq += 1 + (rnd.next() < 0.2 ? Math.floor(rnd.next() * 50) : 0);
    if (w.set(seq, seq)) kept.push(seq);
    if (kept.length > 100) w.delete(kept.shift()!);
    t.true(w.span <= 2 * (w.kept + 1) + SPAN_SLACK, `span ${w.span} with ${w.kept} kept`);
  }
  t.pass();
});
