/**
 * How a keyed batch's answer is kept (the idempotency record of its entry): its items' answers
 * as runs of equal answers, `{"kind":"batch","runs":[[count, answer], ...]}`. A batch of puts
 * answers every item alike (`{"kind":"put","revision":<the entry's index>}`), so its record is one
 * run, not a thousand answers: the record is written to the engine on every node and kept for
 * the key's lifetime (10 minutes). Part of the state machine: every node must store the same
 * text for the same answers.
 */
import type { BatchResult, WriteResult } from './applier';

export interface KeptBatch {
  kind: 'batch';
  runs: [number, WriteResult][];
}

/** Item answers are flat objects of numbers, strings and booleans: equal when every field is. */
function same(a: WriteResult, b: WriteResult): boolean {
  const keys = Object.keys(a) as (keyof WriteResult)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

export function keepBatch(result: BatchResult): KeptBatch {
  const runs: [number, WriteResult][] = [];
  for (const r of result.results) {
    const last = runs[runs.length - 1];
    if (last !== undefined && same(last[1], r)) last[0]++;
    else runs.push([1, r]);
  }
  return { kind: 'batch', runs };
}

/** The first answer again (each item its own copy: callers may annotate them). */
export function restoreBatch(kept: KeptBatch): BatchResult {
  const results: WriteResult[] = [];
  for (const [count, answer] of kept.runs) for (let i = 0; i < count; i++) results.push({ ...answer });
  return { kind: 'batch', results };
}
