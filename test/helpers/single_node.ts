/**
 * One node (a one-voter cluster) in this process, with its HTTP API on a free port: for tests of
 * the API and the driver that need a real node but not three processes.
 */
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { startApiServer } from '../../ts/api/server';
import { NodeHealth } from '../../ts/monitor/node_health';
import { RaftNode, type RaftNodeConfig } from '../../ts/node/raft_node';
import { StateType } from '../../ts/raft/types';
import { freePorts } from './ports';
import { tempDir } from './tmp';

export interface SingleNode {
  node: RaftNode;
  port: number;
  dir: string;
  url(path: string): string;
}

export async function singleNode(t: ExecutionContext, extra: Partial<RaftNodeConfig> = {}, api = true, authEnabled = false): Promise<SingleNode> {
  const dir = tempDir(t);
  const [peer] = await freePorts(1);
  let onLeading: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (onLeading = resolve));
  const node = await RaftNode.open({
    id: 1,
    dataDir: join(dir, 'n1'),
    members: new Map([[1, { host: '127.0.0.1', port: peer }]]),
    onFatal: (err) => t.fail(`fatal: ${err.message}`),
    ...extra,
    onSoftState: (leader, state) => {
      if (state === StateType.Leader) onLeading();
      extra.onSoftState?.(leader, state);
    },
  });
  await node.start();
  await leading;
  const health = new NodeHealth(node);
  health.start();
  // The client address it reports (read per request) is the port it got: clients routing by
  // /v1/cluster reach it.
  const client = { host: '127.0.0.1', port: 0 };
  const server = api ? await startApiServer({ node, client, health, authEnabled }, '127.0.0.1', 0) : undefined;
  if (server) client.port = server.port;
  t.teardown(async () => {
    await server?.close(100);
    health.close();
    await node.close();
  });
  const port = server?.port ?? 0;
  return { node, port, dir, url: (path) => `http://127.0.0.1:${port}${path}` };
}
