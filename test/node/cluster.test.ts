/**
 * Three RaftNodes in one process over real TCP on 127.0.0.1: writes through a follower,
 * linearizable reads, conditional writes, leader loss and a restarted node catching up.
 * Waits are on node events (leader changes, applied writes), never on sleeps.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { UnavailableError } from '../../ts/errors';
import { Op } from '../../ts/node/commands';
import { decodeStored } from '../../ts/node/commands';
import { RaftNode } from '../../ts/node/raft_node';
import { StateType } from '../../ts/raft';
import type { PeerAddress } from '../../ts/transport/peer';
import { restartablePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';

class Cluster {
  readonly nodes = new Map<number, RaftNode>();
  private waiters: (() => void)[] = [];

  constructor(readonly dir: string, readonly members: Map<number, PeerAddress>) {}

  async start(id: number): Promise<RaftNode> {
    const node = await RaftNode.open({
      id,
      dataDir: join(this.dir, `n${id}`),
      members: this.members,
      onSoftState: () => this.changed(),
      onFatal: (err) => {
        throw err;
      },
    });
    this.nodes.set(id, node);
    await node.start();
    return node;
  }

  async stop(id: number): Promise<void> {
    await this.nodes.get(id)!.close();
    this.nodes.delete(id);
  }

  private changed(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The leader all running nodes agree on. */
  async leader(): Promise<RaftNode> {
    for (;;) {
      const nodes = [...this.nodes.values()];
      const lead = nodes.find((n) => n.status().state === StateType.Leader);
      if (lead && nodes.every((n) => n.status().leader === lead.id)) return lead;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
  }
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** `op` again, once the nodes agree on a leader, while it fails as `unavailable` (retryable), up to 10 times. */
async function retryUnavailable<T>(cluster: Cluster, op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof UnavailableError) || attempt >= 10) throw err;
      await cluster.leader();
    }
  }
}

/** Three nodes started and agreeing on a leader; the two followers. */
async function threeNodes(t: ExecutionContext): Promise<{ cluster: Cluster; leader: RaftNode; follower: RaftNode; other: RaftNode }> {
  const ports = await restartablePorts(3);
  const members = new Map(ports.map((port, i) => [i + 1, { host: '127.0.0.1', port }]));
  const cluster = new Cluster(tempDir(t), members);
  t.teardown(() => cluster.closeAll());
  for (const id of members.keys()) await cluster.start(id);
  const leader = await cluster.leader();
  const [follower, other] = [...cluster.nodes.values()].filter((n) => n !== leader);
  return { cluster, leader, follower, other };
}

test('a 3-node cluster replicates writes, serves linearizable reads and survives losing its leader', async (t) => {
  const { cluster, leader, follower, other } = await threeNodes(t);


  // A write through a follower is forwarded to the leader and acknowledged once applied.
  const put = await follower.propose({ op: Op.Put, key: 'k', value: json('v1') });
  t.is(put.kind, 'put');
  const revision = put.kind === 'put' ? put.revision : -1;

  // A linearizable read on the third node sees it.
  await other.readBarrier();
  const stored = decodeStored(other.engine.get('k')!);
  t.deepEqual([stored.revision, stored.value.toString()], [revision, '"v1"']);

  // Conditional writes are decided at apply time, the same way on every replica.
  t.deepEqual(await other.propose({ op: Op.Put, key: 'k', value: json('v2'), ifRevision: revision + 100 }), { kind: 'mismatch', currentRevision: revision });
  t.is((await other.propose({ op: Op.Put, key: 'k', value: json('v2'), ifRevision: revision })).kind, 'put');
  t.deepEqual(await leader.propose({ op: Op.Put, key: 'new', value: json(1), ifRevision: 0 }).then((r) => r.kind), 'put');

  // Lose the leader: the other two elect a new one and keep accepting writes.
  await cluster.stop(leader.id);
  const next = await cluster.leader();
  t.not(next.id, leader.id);
  const after = await next.propose({ op: Op.Put, key: 'after', value: json('x') });
  t.is(after.kind, 'put');

  // The old leader restarts from its WAL and engine and catches up. (A read refused as
  // retryable — an election it starts before hearing from the leader — is retried, as clients
  // do. One CI failure here was a read failed by the late report of the leader it had gone to:
  // fixed, test/node/read_rounds.test.ts.)
  const back = await cluster.start(leader.id);
  await cluster.leader();
  await retryUnavailable(cluster, () => back.readBarrier());
  t.is(decodeStored(back.engine.get('after')!).value.toString(), '"x"');
  t.is(decodeStored(back.engine.get('k')!).value.toString(), '"v2"');
});

test('a write forwarded to a leader that dies is failed as leader_changed once the next leader commits, not at the timeout', async (t) => {
  const { cluster, leader, follower, other } = await threeNodes(t);
  t.is((await follower.propose({ op: Op.Put, key: 'before', value: json(1) })).kind, 'put');

  // The third member goes, then the leader: the follower still believes in the dead leader and
  // forwards the write to it, where it is lost; alone, the follower cannot elect anyone.
  await cluster.stop(other.id);
  await cluster.stop(leader.id);
  t.is(follower.status().leader, leader.id);
  const lost = follower.propose({ op: Op.Put, key: 'lost', value: json(2) });
  const outcome = lost.then(() => 'applied', (err: Error & { code?: string }) => err.code ?? err.message);

  // The third member returns: a new leader commits its first entry, the follower applies it and
  // knows the write was not committed in its leader's term.
  await cluster.start(other.id);
  const next = await cluster.leader();
  t.not(next.id, leader.id);
  t.is(await outcome, 'leader_changed');
  t.is(follower.engine.get('lost'), undefined);
  // The cluster goes on: a write through the same follower is applied.
  t.is((await follower.propose({ op: Op.Put, key: 'after', value: json(3) })).kind, 'put');
});
