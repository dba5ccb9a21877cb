/**
 * The generator is deterministic, its lines are valid ingest events, and the gaps and
 * duplicates it injects are exactly the ones the store reports; `quorumkv md ingest` pushes a
 * generated file through the CLI.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parseNdjson } from '../../ts/market/batch';
import { generate } from '../../ts/market/generator';
import { singleNode } from '../helpers/single_node';
import { tempDir } from '../helpers/tmp';

const hash = (lines: Iterable<string>) => {
  const h = createHash('sha256');
  for (const l of lines) h.update(l).update('\n');
  return h.digest('hex');
};

test('the same options give the same data; another seed gives other data', (t) => {
  const opts = { instruments: 5, minutes: 1, seed: 3, eventsPerSecond: 50 };
  t.is(hash(generate(opts)), hash(generate(opts)));
  t.not(hash(generate(opts)), hash(generate({ ...opts, seed: 4 })));
  const lines = [...generate(opts)];
  t.true(lines.length > 3000, `${lines.length} lines (a flash crash multiplies the rate by 50 for 1% of the time)`);
  for (let i = 0; i < lines.length; i += 1000) t.notThrows(() => parseNdjson(Buffer.from(lines.slice(i, i + 1000).join('\n')), 0n));
  const symbols = new Set(lines.map((l) => (JSON.parse(l) as { instrument: string }).instrument));
  t.is(symbols.size, 5);
});

test('the store reports exactly the gaps and duplicates the generator injected', async (t) => {
  const { url } = await singleNode(t);
  const lines = [...generate({ instruments: 4, minutes: 1, seed: 9, eventsPerSecond: 30, gapRate: 0.02, duplicateRate: 0.02 })];
  let expectedDuplicates = 0;
  let expectedGaps = 0;
  const venue = new Map<string, bigint>();
  for (let i = 0; i < lines.length; i++) {
    if (i > 0 && lines[i] === lines[i - 1]) {
      expectedDuplicates++;
      continue;
    }
    const e = JSON.parse(lines[i]) as { instrument: string; venueSeq: string };
    const last = venue.get(e.instrument);
    if (last !== undefined && BigInt(e.venueSeq) > last + 1n) expectedGaps++;
    venue.set(e.instrument, BigInt(e.venueSeq));
  }
  t.true(expectedDuplicates > 0 && expectedGaps > 0);
  let duplicates = 0;
  let gaps = 0;
  for (let i = 0; i < lines.length; i += 500) {
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 500).join('\n') });
    const answer = (await res.json()) as { duplicates: number; gaps: unknown[] };
    t.is(res.status, 200);
    duplicates += answer.duplicates;
    gaps += answer.gaps.length;
  }
  t.is(duplicates, expectedDuplicates);
  t.is(gaps, expectedGaps);
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', join(__dirname, '..', '..', 'ts', 'cli', 'main.ts'), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    // 'close', not 'exit': the child's output may still be in its pipe when it exits.
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

test('quorumkv md ingest pushes a file in batches and reports the counts', async (t) => {
  const { url } = await singleNode(t);
  const file = join(tempDir(t), 'day.ndjson');
  const lines = [...generate({ instruments: 3, minutes: 1, seed: 5, eventsPerSecond: 20 })];
  writeFileSync(file, `${lines.join('\n')}\n`);
  const out = await cli(['md', 'ingest', file, '--batch', '700', '--endpoint', url('')]);
  t.is(out.code, 0);
  t.like(JSON.parse(out.stdout), { applied: lines.length, duplicates: 0 });
});

test('md generate --format binary writes frames that md ingest --format binary stores as the NDJSON would be', async (t) => {
  const { url } = await singleNode(t);
  const dir = tempDir(t);
  const args = ['--instruments', '3', '--minutes', '1', '--seed', '6', '--rate', '20'];
  t.is((await cli(['md', 'generate', ...args, '--format', 'binary', '--batch', '500', '--out', join(dir, 'day.bin')])).code, 0);
  const lines = [...generate({ instruments: 3, minutes: 1, seed: 6, eventsPerSecond: 20 })];
  const out = await cli(['md', 'ingest', join(dir, 'day.bin'), '--format', 'binary', '--endpoint', url('')]);
  t.is(out.code, 0);
  t.like(JSON.parse(out.stdout), { applied: lines.length, duplicates: 0 });
  const last = JSON.parse(lines[lines.length - 1]) as { producerSeq: string };
  const feeds = (await (await fetch(url('/v1/md/feeds'))).json()) as { producers: { producerSeq: string }[] };
  t.is(feeds.producers[0].producerSeq, last.producerSeq);
});

test('the generated books never cross (levels the mid walks through are cancelled first)', async (t) => {
  const { url } = await singleNode(t);
  const lines = [...generate({ instruments: 3, minutes: 1, seed: 21, eventsPerSecond: 40 })];
  for (let i = 0; i < lines.length; i += 1000) {
    const res = await fetch(url('/v1/md/events'), { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).join('\n') });
    t.is(res.status, 200);
    const top = (await (await fetch(url('/v1/md/books/top'), { method: 'POST', body: JSON.stringify({ instruments: ['SYM001', 'SYM002', 'SYM003'] }) })).json()) as { books: { spread: string | null }[] };
    for (const b of top.books) if (b.spread !== null) t.true(Number(b.spread) > 0, `spread ${b.spread} after ${i + 1000} lines`);
  }
});
