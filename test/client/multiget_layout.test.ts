/**
 * The client asks for multi-gets as columns; a member that refuses the layout (an older version:
 * 400 invalid_layout) is asked positional from then on, and the calls still get their values.
 */
import test from 'ava';
import { createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { QuorumClient } from '../../ts/client';

test('a member that refuses layout=columns is asked positional, once and for all', async (t) => {
  const asked: string[] = [];
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const path = headers[':path'] ?? '';
    asked.push(path);
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      const columns = path.includes('layout=columns');
      stream.respond({ ':status': columns ? 400 : 200, 'content-type': 'application/json' });
      stream.end(columns ? '{"error":{"code":"invalid_layout","message":"layout is \\"keyed\\" (default) or \\"positional\\""}}' : '{"items":[{"value":"A","revision":3}]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const client = new QuorumClient({ endpoints: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`] });
  t.teardown(() => client.close());
  t.deepEqual(await client.get('a', { consistency: 'stale' }), { key: 'a', value: 'A', revision: 3 });
  t.deepEqual(await client.get('a', { consistency: 'stale' }), { key: 'a', value: 'A', revision: 3 });
  t.deepEqual(asked, ['/v1/multiget?layout=columns&consistency=stale', '/v1/multiget?layout=positional&consistency=stale', '/v1/multiget?layout=positional&consistency=stale']);
});
