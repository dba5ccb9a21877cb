/**
 * A linearizability checker: the Wing–Gong search with Lowe's memoization, as porcupine
 * implements it. The history is a list of operations with invoke (`call`) and completion
 * (`ret`) times; an operation whose outcome is unknown (a timeout, a dropped connection) has
 * `ret = Infinity`: it may have taken effect at any point after its call, or never (placing it
 * after everything else is the same as never). Operations known not to have happened are left
 * out by the caller.
 *
 * The search walks call/return events in time order, tries to linearize each call that is
 * still pending, and backtracks when it reaches a return whose operation it has not yet
 * linearized. A (linearized set, model state) pair is explored at most once, which is what
 * keeps the search tractable on long histories with limited concurrency.
 *
 * Histories should be split by independent object first (here: by key — a register per key),
 * because linearizability is compositional and the search is exponential in concurrency only.
 */

export interface Model<S, I, O> {
  init: () => S;
  /** The state after applying `input` with observed `output` to `state`, or undefined if the
   *  output is impossible from that state. `output` is undefined for unknown outcomes. */
  step: (state: S, input: I, output: O | undefined) => S | undefined;
  /** A string that is equal for equal states (memoization key). */
  key: (state: S) => string;
}

export interface Operation<I, O> {
  input: I;
  /** Undefined when the outcome is unknown. */
  output?: O;
  /** Invocation time (any monotonic unit). */
  call: number;
  /** Completion time; Infinity when the outcome is unknown. */
  ret: number;
  /** The caller's name for the operation (e.g. its history line), reported in `stuckAt`. */
  id?: number;
}

export interface CheckResult {
  /** 'unknown' when the search exceeded `stepsMax`. */
  verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  steps: number;
  /** On failure: the most operations any explored order linearized, and the operations still
   *  pending at that point (earliest calls first; their `id`, else their index) — where to
   *  start reading the history. */
  linearizedMax?: number;
  stuckAt?: number[];
}

interface Entry {
  /** Index of the operation in the input array. */
  op: number;
  isCall: boolean;
  time: number;
  /** For a call entry: its return entry. */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(bits: number) {
    this.words = new Uint32Array(Math.ceil(bits / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }
  /** The key with bit `i` also set, without mutating. */
  keyWith(i: number): string {
    const w = i >>> 5;
    const saved = this.words[w];
    this.words[w] = saved | (1 << (i & 31));
    const k = String.fromCharCode(...new Uint16Array(this.words.buffer));
    this.words[w] = saved;
    return k;
  }
}

/** Time-ordered call/return entries as a doubly linked list behind a sentinel head. */
function linkEntries<I, O>(ops: readonly Operation<I, O>[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((o, i) => {
    if (!(o.ret >= o.call)) throw new Error(`operation ${i} returns (${o.ret}) before its call (${o.call})`);
    const ret: Entry = { op: i, isCall: false, time: o.ret, match: undefined, prev: undefined, next: undefined };
    entries.push({ op: i, isCall: true, time: o.call, match: ret, prev: undefined, next: undefined }, ret);
  });
  // Equal times: calls first, so operations touching at an instant count as concurrent.
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function unlink(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
}

/** Removes a call and its return from the list (the operation is linearized). */
function lift(call: Entry): void {
  unlink(call);
  unlink(call.match!);
}

/** Undoes `lift`, in reverse order. */
function unlift(call: Entry): void {
  relink(call.match!);
  relink(call);
}

export function checkOperations<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], stepsMax = 20_000_000): CheckResult {
  const head = linkEntries(ops);
  const linearized = new Bitset(ops.length);
  const seen = new Set<string>();
  const stack: { call: Entry; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  let linearizedMax = 0;
  let stuckAt: number[] = [];

  while (head.next) {
    if (++steps > stepsMax) return { verdict: 'unknown', steps };
    if (!entry) throw new Error('checker invariant: walked past the end with operations left');
    if (entry.isCall) {
      const o = ops[entry.op];
      const next = model.step(state, o.input, o.output);
      const memo = next === undefined ? '' : `${linearized.keyWith(entry.op)}|${model.key(next)}`;
      if (next !== undefined && !seen.has(memo)) {
        seen.add(memo);
        stack.push({ call: entry, state });
        state = next;
        linearized.set(entry.op);
        lift(entry);
        entry = head.next;
      } else {
        entry = entry.next;
      }
    } else {
      // A return whose operation is not linearized yet: this order cannot work, backtrack.
      if (stack.length >= linearizedMax) {
        linearizedMax = stack.length;
        stuckAt = pendingCalls(head, 8).map((i) => ops[i].id ?? i);
      }
      const top = stack.pop();
      if (!top) return { verdict: 'not-linearizable', steps, linearizedMax, stuckAt };
      state = top.state;
      linearized.clear(top.call.op);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { verdict: 'linearizable', steps };
}

function pendingCalls(head: Entry, max: number): number[] {
  const out: number[] = [];
  for (let e = head.next; e && out.length < max; e = e.next) if (e.isCall) out.push(e.op);
  return out;
}

// --- A read/write/compare-and-set register: the model for one key of the store. ------------

export type RegisterValue = number | null;

export type RegisterInput = { kind: 'read' } | { kind: 'write'; value: number } | { kind: 'cas'; from: number; to: number };

/** read → the value seen (null: absent); cas → whether it swapped; write → nothing. */
export type RegisterOutput = { value: RegisterValue } | { succeeded: boolean } | Record<string, never>;

export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: (state, input, output) => {
    switch (input.kind) {
      case 'read':
        if (output === undefined) return state; // callers drop unknown reads; harmless if kept
        return (output as { value: RegisterValue }).value === state ? state : undefined;
      case 'write':
        return input.value;
      case 'cas': {
        const matches = state === input.from;
        // Unknown outcome: if it took effect here, it swapped exactly when the value matched.
        if (output === undefined) return matches ? input.to : state;
        const swapped = (output as { succeeded: boolean }).succeeded;
        if (swapped !== matches) return undefined;
        return swapped ? input.to : state;
      }
    }
  },
  key: (state) => (state === null ? 'null' : String(state)),
};

/**
 * Removes operations that cannot change the verdict, before the search:
 * - reads with unknown outcomes (they have no effect and observed nothing);
 * - writes and compare-and-sets with unknown outcomes whose value nobody observed (no read
 *   returned it, no successful compare-and-set expected it). Such an operation can always be
 *   moved to the end of a linearization: states between its old place and the next write were
 *   never read, and an unknown compare-and-set that would then swap can move to the end too.
 *   That argument needs every compare-and-set that did not swap to be left out of the history
 *   (as a known failure), so the pruning is skipped when one is present.
 * Values written must be unique per key. Unknown operations are what makes the search
 * exponential; after a fault most of them were never observed.
 */
export function pruneRegisterHistory(ops: readonly Operation<RegisterInput, RegisterOutput>[]): Operation<RegisterInput, RegisterOutput>[] {
  const known = ops.filter((o) => !(o.input.kind === 'read' && o.output === undefined));
  const hasRefusedCas = known.some((o) => o.input.kind === 'cas' && o.output !== undefined && !(o.output as { succeeded: boolean }).succeeded);
  if (hasRefusedCas) return known;
  const observed = new Set<number>();
  for (const o of known) {
    if (o.output === undefined) continue;
    if (o.input.kind === 'read') {
      const v = (o.output as { value: RegisterValue }).value;
      if (v !== null) observed.add(v);
    } else if (o.input.kind === 'cas') observed.add(o.input.from);
  }
  return known.filter((o) => {
    if (o.output !== undefined) return true;
    if (o.input.kind === 'write') return observed.has(o.input.value);
    if (o.input.kind === 'cas') return observed.has(o.input.to);
    return true;
  });
}
