/** A node that cannot apply a committed entry exits 70 with a `fatal` log line naming the code. */
import { join } from 'node:path';
import test from 'ava';
import { freePorts } from '../helpers/ports';
import { type Poison, poisonedDataDir } from '../helpers/poisoned_log';
import { tempDir } from '../helpers/tmp';
import { Proc } from './procs';

const cases: [Poison, string][] = [
  ['garbage', 'COMMAND_INVALID'],
  ['future-version', 'COMMAND_VERSION_UNSUPPORTED'],
];

for (const [poison, code] of cases) {
  test(`quorumkv start on a log with a ${poison} command exits 70 with code ${code}`, async (t) => {
    const dataDir = join(tempDir(t), 'n1');
    const [client, peer] = await freePorts(2);
    await poisonedDataDir(dataDir, { host: '127.0.0.1', port: peer }, poison);
    const p = new Proc(1, client, ['--id', 'n1', '--data', dataDir, '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`, '--cluster', `n1=127.0.0.1:${peer}`]);
    p.spawn();
    t.teardown(() => p.child.kill('SIGKILL'));
    const { code: exitCode } = await p.exited;
    t.is(exitCode, 70);
    const fatal = p.events.find((e) => e.event === 'fatal');
    t.is(fatal?.code, code, JSON.stringify(p.events.slice(-5)));
    t.false(p.events.some((e) => e.event === 'stderr' && /Unhandled|at .*\.ts:\d+/.test(String(e.line))), 'no crash trace on stderr');
  });
}
