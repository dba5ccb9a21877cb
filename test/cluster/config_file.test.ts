/**
 * `quorumkv start --config FILE`: YAML or TOML keys named as the flags; a command-line flag wins
 * over the file; an unknown key or a bad value stops `start` naming it. The repository's example
 * config parses (its keys are all real flags).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { buildProgram } from '../../ts/cli/commands';
import { configArgs } from '../../ts/cli/config_file';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

const MAIN = join(__dirname, '..', '..', 'ts', 'cli', 'main.ts');

function firstEvent(child: ChildProcess, event: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const doc = JSON.parse(line) as Record<string, unknown>;
      if (doc.event === event) resolve(doc);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before ${event}`)));
  });
}

test('a TOML file starts a node; a flag on the command line wins', async (t) => {
  const dir = tempDir(t);
  const [filePort, flagPort, peer] = await freePorts(3);
  const file = join(dir, 'n1.toml');
  writeFileSync(file, `id = "n1"\ndata = "${join(dir, 'n1')}"\nlisten = "127.0.0.1:${filePort}"\npeer-listen = "127.0.0.1:${peer}"\ncluster = "n1=127.0.0.1:${peer}"\nsnapshot-entries = 500\nthrottle = "off"\n`);
  const child = spawn(process.execPath, ['--import=tsx', MAIN, 'start', '--config', file, '--listen', `127.0.0.1:${flagPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const ready = await firstEvent(child, 'ready');
  t.is(ready.port, flagPort);
  t.is(ready.id, 1);
});

test('YAML too; an unknown key and a bad value are refused with their names', (t) => {
  const dir = tempDir(t);
  const yaml = join(dir, 'n1.yaml');
  writeFileSync(yaml, 'id: n1\ndata: /tmp/x\nlisten: 127.0.0.1:1\npeer-listen: 127.0.0.1:2\ncluster: n1=127.0.0.1:2\nsnapshot-entries: abc\n');
  const bad = spawnSync(process.execPath, ['--import=tsx', MAIN, 'start', '--config', yaml], { encoding: 'utf8' });
  t.not(bad.status, 0);
  t.regex(bad.stderr, /--snapshot-entries <n>' argument 'abc' is invalid/);
  const unknown = join(dir, 'u.toml');
  writeFileSync(unknown, 'id = "n1"\nbogus = 1\n');
  const refused = spawnSync(process.execPath, ['--import=tsx', MAIN, 'start', '--config', unknown], { encoding: 'utf8' });
  t.is(refused.status, 1);
  t.regex(refused.stderr, /unknown key "bogus"/);
});

test('the example config in docs/ names only real start flags', (t) => {
  const start = buildProgram('test').commands.find((c) => c.name() === 'start')!;
  const args = configArgs(start, join(__dirname, '..', '..', 'docs', 'quorumkv.example.toml'));
  t.true(args.includes('--peer-listen'));
  t.true(args.includes('--cert'));
});
