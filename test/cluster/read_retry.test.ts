/**
 * A follower's linearizable read survives losing its ReadIndex request: the link the follower
 * sends on to the leader is cut (its messages are dropped, as Raft allows) while the read is
 * pending, then healed; the follower asks again and answers within the read's deadline —
 * without asking again it waited out the deadline and answered 504.
 */
import test from 'ava';
import { ChaosCluster } from '../chaos/cluster';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

test('a read on a follower whose request to the leader was lost is asked again and answered', async (t) => {
  const cluster = await ChaosCluster.create(tempDir(t), 3);
  t.teardown(() => cluster.shutdown());
  await cluster.startAll();
  const lead = await cluster.converged();
  const leaderUrl = cluster.node(lead).proc.url('');
  const follower = cluster.nodes.find((n) => n.id !== lead)!;
  const url = follower.proc.url('');
  const put = await fetch(`${leaderUrl}/v1/kv/greeting`, { method: 'PUT', body: JSON.stringify({ value: 'hello' }) });
  t.is(put.status, 200);
  const { revision } = (await put.json()) as { revision: number };

  const link = cluster.proxies.get(`${follower.id}>${lead}`)!;
  link.setCut(true);
  await pollUntil(async () => (await metric(url, `quorumkv_raft_peer_reachable{peer="${lead}"}`)) === 0, 'the follower to see its link down');
  const reading = fetch(`${url}/v1/kv/greeting`);
  // Pending at the follower: its round was sent (in the turn the read arrived) and lost.
  await pollUntil(async () => (await metric(url, 'quorumkv_raft_reads_pending')) === 1, 'the read to be pending');
  link.setCut(false);
  const answer = await reading;
  t.is(answer.status, 200);
  t.deepEqual(await answer.json(), { key: 'greeting', value: 'hello', revision });
  t.true((await metric(url, 'quorumkv_raft_read_index_retries_total')) >= 1, 'the round was asked for again');
});
