/**
 * Every numeric (and address) flag of the CLI is checked before anything runs or is sent: a bad
 * value exits non-zero with the flag named, and the endpoint receives no request.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import { runCli as cli } from '../helpers/cli';
import { tempDir } from '../helpers/tmp';

/** An HTTP server that counts the requests it gets and answers each like a node would. */
async function countingEndpoint(t: import('ava').ExecutionContext): Promise<{ url: string; requests: () => number }> {
  let n = 0;
  const server = createServer((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"revision":1}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests: () => n };
}

const badClientCalls: [string[], string][] = [
  [['put', 'k', '1', '--if-revision', 'abc'], '--if-revision'],
  [['put', 'k', '1', '--if-revision', '-1'], '--if-revision'],
  [['put', 'k', '1', '--if-revision', '1.5'], '--if-revision'],
  [['del', 'k', '--if-revision', 'x'], '--if-revision'],
  [['scan', '--limit', '0'], '--limit'],
  [['scan', '--limit', 'many'], '--limit'],
  [['put', 'k', 'not json'], 'JSON'],
  [['member', 'remove', 'nx'], 'node ids'],
  [['md', 'replay', '--instruments', 'A', '--speed', 'fast'], '--speed'],
  [['md', 'replay', '--instruments', 'A', '--speed', '0'], '--speed'],
  [['md', 'replay', '--instruments', 'A,,B'], '--instruments'],
  [['md', 'replay', '--instruments', 'A', '--depth', '0'], '--depth'],
  [['md', 'vwap', 'ES', '--side', 'up', '--qty', '1'], '--side'],
  [['md', 'vwap', 'ES', '--side', 'buy', '--qty', '0'], '--qty'],
];

for (const [args, named] of badClientCalls) {
  test(`quorumkv ${args.join(' ')} fails naming ${named} and sends nothing`, async (t) => {
    const endpoint = await countingEndpoint(t);
    const r = await cli([...args, '--endpoint', endpoint.url]);
    t.not(r.code, 0);
    t.true(r.stderr.includes(named), r.stderr);
    t.is(endpoint.requests(), 0);
  });
}

test('a good call is sent once and exits 0', async (t) => {
  const endpoint = await countingEndpoint(t);
  const r = await cli(['put', 'k', '1', '--if-revision', '0', '--endpoint', endpoint.url]);
  t.is(r.code, 0, r.stderr);
  t.is(endpoint.requests(), 1);
});

const badNodeCalls: [string[], string][] = [
  [['start', '--snapshot-entries', 'abc'], '--snapshot-entries'],
  [['start', '--snapshot-bytes', '0'], '--snapshot-bytes'],
  [['start', '--snapshot-catchup', '-5'], '--snapshot-catchup'],
  [['start', '--listen', 'nohost'], '--listen'],
  [['dev', '--nodes', '12'], '--nodes'],
  [['dev', '--port', 'eighty'], '--port'],
];

for (const [args, named] of badNodeCalls) {
  test(`quorumkv ${args.join(' ')} fails naming ${named} and starts nothing`, async (t) => {
    const data = join(tempDir(t), 'd');
    const base = args[0] === 'start' ? ['--id', 'n1', '--data', data, '--listen', '127.0.0.1:1', '--peer-listen', '127.0.0.1:2', '--cluster', 'n1=127.0.0.1:2'] : ['--data', data];
    const r = await cli([...args.slice(0, 1), ...base, ...args.slice(1)]);
    t.not(r.code, 0);
    t.true(r.stderr.includes(named), r.stderr);
    t.false(existsSync(data), 'no data directory was created');
  });
}

test('start --help lists every flag with its default', async (t) => {
  const r = await cli(['start', '--help']);
  t.is(r.code, 0);
  for (const flag of ['--id', '--data', '--listen', '--peer-listen', '--cluster', '--join', '--learner', '--snapshot-entries', '--snapshot-bytes', '--snapshot-catchup']) t.true(r.stdout.includes(flag), flag);
  t.true(r.stdout.replace(/\s+/g, ' ').includes('(default: 10000)'), r.stdout);
});
