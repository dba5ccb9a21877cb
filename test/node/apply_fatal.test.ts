/**
 * Every failure inside apply goes through the node's one fatal path: `onFatal` with the
 * error's code, nothing applied after it, and no unhandled rejection.
 */
import { join } from 'node:path';
import test from 'ava';
import { RaftNode } from '../../ts/node/raft_node';
import { freePorts } from '../helpers/ports';
import { type Poison, poisonedDataDir } from '../helpers/poisoned_log';
import { tempDir } from '../helpers/tmp';

const cases: [Poison, string][] = [
  ['garbage', 'COMMAND_INVALID'],
  ['future-version', 'COMMAND_VERSION_UNSUPPORTED'],
];

for (const [poison, code] of cases) {
  test.serial(`a ${poison} command in the log stops the node through onFatal with ${code}`, async (t) => {
    const dataDir = join(tempDir(t), 'n1');
    const [port] = await freePorts(1);
    const peer = { host: '127.0.0.1', port };
    await poisonedDataDir(dataDir, peer, poison);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.teardown(() => process.off('unhandledRejection', onUnhandled));
    let failed: (err: Error & { code?: string }) => void = () => undefined;
    const fatal = new Promise<Error & { code?: string }>((resolve) => (failed = resolve));
    const node = await RaftNode.open({ id: 1, dataDir, members: new Map([[1, peer]]), onFatal: (err) => failed(err) });
    const appliedBefore = node.status().appliedIndex;
    await node.start();
    const err = await fatal;
    t.is(err.code, code);
    t.is(node.status().appliedIndex, appliedBefore, 'nothing at or after the bad entry was applied');
    await t.throwsAsync(node.readBarrier(), { code: 'unavailable' } as never);
    await node.close();
    // A turn for any stray rejection to surface.
    await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(unhandled, []);
  });
}
