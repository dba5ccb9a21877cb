/**
 * MarketState.load (a snapshot install) swaps the state in whole: a request served between its
 * reads sees the old instruments and producers or the new ones, never a table half read (a
 * replay once took an empty producer table there and failed its stored records).
 */
import { join } from 'node:path';
import test from 'ava';
import { parseNdjson } from '../../ts/market/batch';
import { MarketState } from '../../ts/market/state';
import { Engine, type EngineOp } from '../../ts/native';
import { tempDir } from '../helpers/tmp';

const trade = (instrument: string, producerId: string, seq: number) => JSON.stringify({ kind: 'trade', instrument, price: '1', size: 1, side: 'buy', tsEvent: seq, producerId, producerSeq: seq });

/** An engine holding `batches` applied by a MarketState of its own, from index 2. */
async function engineWith(dir: string, batches: string[][]): Promise<Engine> {
  const engine = Engine.open(dir);
  const state = new MarketState();
  for (const [i, lines] of batches.entries()) {
    const ops: EngineOp[] = [];
    const result = state.apply(parseNdjson(Buffer.from(lines.join('\n')), 0n), i + 2, ops);
    if (result.kind !== 'md') throw new Error(result.message);
    await engine.apply(ops, i + 2);
  }
  return engine;
}

test('a load is seen whole or not at all by reads between its steps', async (t) => {
  const dir = tempDir(t);
  const before = await engineWith(join(dir, 'a'), [[trade('A', 'p0', 1)]]);
  // Many instruments and producers: the load takes many turns.
  const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 25 }, (_, i) => trade(`S${b}-${i}`, `feed-${b}-${i % 5}`, b * 100 + i + 1)));
  const after = await engineWith(join(dir, 'b'), batches);
  t.teardown(() => {
    before.close();
    after.close();
  });
  const state = new MarketState();
  await state.load(before);
  const seen = new Set<string>();
  let done = false;
  const loading = state.load(after).then(() => (done = true));
  while (!done) {
    seen.add(`${state.instrumentCount}/${state.producerTable().length}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await loading;
  seen.add(`${state.instrumentCount}/${state.producerTable().length}`);
  t.deepEqual([...seen].sort(), ['1/1', '1000/200'], 'only the old state and the new were ever visible');
  t.is(state.idOf('S39-24'), 1000);
});
