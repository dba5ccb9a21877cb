/**
 * `quorumkv md ingest FILE` with a bad line: it stops there naming the file's line (blank lines
 * counted), says what was applied before it, and a run again after the fix applies the rest,
 * counting the events already applied as duplicates.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { runCli } from '../helpers/cli';
import { singleNode } from '../helpers/single_node';
import { tempDir } from '../helpers/tmp';

const trade = (producerSeq: number) => JSON.stringify({ kind: 'trade', instrument: 'ES', side: 'buy', price: '5000.25', size: 1, tsEvent: String(1_700_000_000_000_000_000n + BigInt(producerSeq)), producerId: 'f', producerSeq });

test('a refused line is named by its line in the file; the run again after the fix applies the rest', async (t) => {
  const { url } = await singleNode(t);
  const file = join(tempDir(t), 'day.ndjson');
  const lines = [trade(1), '', trade(2), trade(3), '{"kind":"trade","instrument":"ES"}', trade(5)];
  writeFileSync(file, `${lines.join('\n')}\n`);
  const bad = await runCli(['md', 'ingest', file, '--batch', '2', '--endpoint', url('')]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /day\.ndjson, line 5: refused \(400 invalid_event: event 2: /);
  t.regex(bad.stderr, /2 events before it were/);
  lines[4] = trade(4);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const good = await runCli(['md', 'ingest', file, '--batch', '2', '--endpoint', url('')]);
  t.is(good.code, 0, good.stderr);
  t.like(JSON.parse(good.stdout), { applied: 3, duplicates: 2 });
});
