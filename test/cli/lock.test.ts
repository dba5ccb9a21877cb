/**
 * `quorumkv lock <key> -- command`: commands run under one lock never overlap, each gets the
 * lock's fencing token (growing from holder to holder), and the exit status is the command's;
 * without a command the lock is held until Ctrl-C and then released.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { followCli, runCli as cli } from '../helpers/cli';
import { pollUntil } from '../helpers/poll';
import { singleNode } from '../helpers/single_node';
import { tempDir } from '../helpers/tmp';

test('commands under one lock run one at a time, with growing fencing tokens and their own exit status', async (t) => {
  t.timeout(60_000);
  const { url } = await singleNode(t);
  const log = join(tempDir(t), 'log');
  // Each job writes "start", works 300 ms, writes "end": overlapping jobs would interleave.
  const job = (id: number, exit: number) =>
    `const fs=require('fs');fs.appendFileSync(${JSON.stringify(log)},'start ${id} '+process.env.QUORUMKV_FENCING_TOKEN+'\\n');setTimeout(()=>{fs.appendFileSync(${JSON.stringify(log)},'end ${id}\\n');process.exit(${exit})},300)`;
  const runs = await Promise.all([1, 2, 3].map((id) => cli(['lock', 'locks/job', '--ttl', '2s', '--endpoint', url(''), '--', process.execPath, '-e', job(id, id === 2 ? 3 : 0)])));
  t.deepEqual(runs.map((r) => r.code), [0, 3, 0], runs.map((r) => r.stderr).join('\n'));
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
  t.is(lines.length, 6);
  const tokens: number[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [, id, token] = lines[i].split(' ');
    t.is(lines[i + 1], `end ${id}`, `job ${id} ended before another started`);
    tokens.push(Number(token));
  }
  t.deepEqual([...tokens].sort((a, b) => a - b), tokens, 'fencing tokens grow from holder to holder');
  t.is((await fetch(url('/v1/kv/locks/job'))).status, 404, 'released');
  t.is((await cli(['lock', 'locks/job', '--endpoint', url(''), '--', '/nonexistent/command'])).code, 127);
});

test('without a command the lock is held until Ctrl-C, then released', async (t) => {
  const { url } = await singleNode(t);
  const held = followCli(t, ['lock', 'locks/manual', '--endpoint', url('')]);
  await pollUntil(() => held.out().includes('fencingToken'), 'the lock to be taken', 20_000);
  const { fencingToken } = JSON.parse(held.out()) as { fencingToken: number };
  t.true(((await (await fetch(url('/v1/kv/locks/manual'))).json()) as { revision: number }).revision >= fencingToken, 'held (renewals only raise the revision)');
  held.stop();
  t.is(await held.closed, 0);
  t.is((await fetch(url('/v1/kv/locks/manual'))).status, 404);
});
