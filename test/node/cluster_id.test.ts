/** The cluster id of a data directory: derived by founders, given to joiners, kept once written. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { derivedClusterId, readClusterId, resolveClusterId } from '../../ts/node/cluster_id';
import { RaftNode } from '../../ts/node/raft_node';
import { acceptHello, encodeHello } from '../../ts/transport/hello';
import { tempDir } from '../helpers/tmp';

const members = new Map([1, 2, 3].map((id) => [id, { host: '10.0.0.' + id, port: 7101 }]));

test('founders derive one id from the member ids (in any order, whatever their routing) and the token', (t) => {
  const id = derivedClusterId(members);
  t.regex(id, /^[0-9a-f]{16}$/);
  t.is(derivedClusterId(new Map([...members].reverse())), id, 'the order of --cluster does not matter');
  t.is(derivedClusterId(new Map([...members].map(([n]) => [n, { host: '127.0.0.1', port: 9000 + n }]))), id, 'nor the addresses: each node routes its own way');
  t.not(derivedClusterId(members, 'other'), id, 'another token, another cluster');
  t.not(derivedClusterId(new Map([...members, [4, { host: '10.0.0.4', port: 7101 }]])), id);
});

test('the first resolution writes the id; later ones read it, whatever the flags say', (t) => {
  const dataDir = tempDir(t);
  const id = resolveClusterId({ dataDir, members });
  t.is(readFileSync(join(dataDir, 'cluster_id'), 'utf8'), `${id}\n`);
  t.is(resolveClusterId({ dataDir, members, clusterToken: 'changed-later' }), id, 'the stored id wins');
  const err = t.throws(() => resolveClusterId({ dataDir, members, clusterId: '0123456789abcdef' }));
  t.regex(err?.message ?? '', new RegExp(`belongs to cluster ${id}, not 0123456789abcdef`));
});

test('a joiner takes the id it was given and refuses to make one up', (t) => {
  t.is(resolveClusterId({ dataDir: tempDir(t), members, joining: true, clusterId: '00000000000000ab' }), '00000000000000ab');
  const err = t.throws(() => resolveClusterId({ dataDir: tempDir(t), members, joining: true }));
  t.regex(err?.message ?? '', /joining node learns it from the cluster/);
});

test('a damaged cluster_id file stops the node from opening', async (t) => {
  const dataDir = tempDir(t);
  writeFileSync(join(dataDir, 'cluster_id'), 'not-an-id\n');
  t.throws(() => readClusterId(dataDir), { code: 'CLUSTER_ID_CORRUPT' } as never);
  await t.throwsAsync(RaftNode.open({ id: 1, dataDir, members: new Map([[1, { host: '127.0.0.1', port: 0 }]]) }), { code: 'CLUSTER_ID_CORRUPT' } as never);
});

test('a hello round-trips, and a hello of another cluster or another member is refused', (t) => {
  const hello = encodeHello('00000000000000c1', 7);
  t.is(hello.readUInt32LE(0), hello.length - 4);
  t.is(acceptHello(hello.subarray(4), '00000000000000c1', undefined), 7);
  t.is(acceptHello(hello.subarray(4), '00000000000000c1', 7), 7);
  t.throws(() => acceptHello(hello.subarray(4), '00000000000000c2', undefined), { message: /n7 belongs to cluster 00000000000000c1, this node to cluster 00000000000000c2/ });
  t.throws(() => acceptHello(hello.subarray(4), '00000000000000c1', 8), { message: /connection of n8 said hello as n7/ });
  t.throws(() => encodeHello('C1', 1), { message: /16 hex digits/ });
});
