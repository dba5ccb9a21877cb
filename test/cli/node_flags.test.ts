/**
 * The V8 flags every node runs with (ts/cli/node_flags.ts): the `quorumkv` command's shebang
 * carries them (an installed bin runs through it), and `dev` adds them to its children unless
 * the user gave their own value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { NODE_V8_FLAGS, withNodeFlags } from '../../ts/cli/node_flags';

test("the quorumkv command's shebang runs node with the node flags", (t) => {
  const first = readFileSync(join(__dirname, '..', '..', 'ts', 'cli', 'main.ts'), 'utf8').split('\n')[0];
  t.is(first, `#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(' ')}`);
});

test('withNodeFlags adds the flags a command line lacks and keeps the ones a user set', (t) => {
  t.deepEqual(withNodeFlags([]), [...NODE_V8_FLAGS]);
  t.deepEqual(withNodeFlags(['--import=tsx']), ['--import=tsx', ...NODE_V8_FLAGS]);
  t.deepEqual(withNodeFlags(['--initial-old-space-size=512']), ['--initial-old-space-size=512']);
});
