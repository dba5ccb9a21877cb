/**
 * `GET /metrics` on a real 3-node cluster, scraped by a real Prometheus (Debian's package,
 * installed by scripts/setup-debian.sh) started by the test with a scrape config for the nodes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { pollUntil } from '../helpers/poll';
import { freePorts } from '../helpers/ports';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from './procs';

const REQUIRED = [
  'quorumkv_raft_term', 'quorumkv_raft_is_leader', 'quorumkv_raft_leader_changes_total', 'quorumkv_raft_commit_index', 'quorumkv_raft_applied_index',
  'quorumkv_raft_proposals_committed_total', 'quorumkv_raft_proposals_pending', 'quorumkv_raft_read_index_duration_seconds_bucket', 'quorumkv_raft_snapshots_sent_total',
  'quorumkv_raft_peer_reachable', 'quorumkv_wal_fsync_duration_seconds_bucket', 'quorumkv_wal_entries_per_sync_bucket', 'quorumkv_wal_bytes_total',
  'quorumkv_apply_duration_seconds_bucket', 'quorumkv_apply_lag_entries', 'quorumkv_rocksdb_property', 'quorumkv_http_requests_total', 'quorumkv_http_request_duration_seconds_bucket',
  'quorumkv_monitor_residual', 'quorumkv_monitor_zscore', 'quorumkv_monitor_anomaly', 'quorumkv_throttle_limit', 'nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes',
];

async function put(p: Proc, key: string): Promise<number> {
  const res = await fetch(p.url(`/v1/kv/${key}`), { method: 'PUT', body: JSON.stringify({ value: key }), headers: { 'content-type': 'application/json' } });
  await res.text();
  return res.status;
}

test('every node serves its series; route labels are templates, never raw keys', async (t) => {
  const cluster = await ProcCluster.start(t, tempDir(t));
  const leader = await cluster.leader();
  for (let i = 0; i < 5; i++) t.is(await put(leader, `secret-key-${i}`), 200);
  await fetch(leader.url('/v1/kv/secret-key-0')).then((r) => r.text());
  // The apply histograms have series once a node applied a write: a follower learns the commit
  // index with the leader's next message, so wait for each to apply through the leader's.
  const committed = ((await (await fetch(leader.url('/v1/cluster'))).json()) as { commitIndex: number }).commitIndex;
  for (const p of cluster.procs) {
    await pollUntil(async () => ((await (await fetch(p.url('/v1/cluster'))).json()) as { appliedIndex: number }).appliedIndex >= committed, `n${p.id} to apply through ${committed}`, 10_000);
  }
  for (const p of cluster.procs) {
    // One answered request, so the HTTP series (labelled by route) exist on every node.
    t.is((await fetch(p.url('/health')).then(async (r) => [r.status, await r.text()]))[0], 200);
    const res = await fetch(p.url('/metrics'));
    t.is(res.status, 200);
    t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of REQUIRED) t.true(text.includes(`\n${name}`), `n${p.id} lacks ${name}`);
    t.false(text.includes('secret-key'), 'a raw key leaked into a label');
  }
  const text = await (await fetch(leader.url('/metrics'))).text();
  t.regex(text, /quorumkv_http_requests_total\{route="\/v1\/kv\/\{key\}",code="2xx"\} [1-9]/);
  t.regex(text, /quorumkv_raft_is_leader 1/);
  t.regex(text, /quorumkv_raft_peer_reachable\{peer="\d"\} 1/);
});

function hasPrometheus(): boolean {
  return spawnSync('prometheus', ['--version']).status === 0;
}

test('a real Prometheus scrapes all three nodes: up == 1 and committed proposals > 0', async (t) => {
  if (!hasPrometheus()) {
    // Only where the package cannot be installed (scripts/setup-debian.sh installs it).
    t.log('SKIPPED: the prometheus binary is not installed (apt-get install prometheus)');
    t.pass();
    return;
  }
  const dir = tempDir(t);
  const cluster = await ProcCluster.start(t, join(dir, 'nodes'));
  const leader = await cluster.leader();
  const [port] = await freePorts(1);
  const targets = cluster.procs.map((p) => `'127.0.0.1:${p.port}'`).join(', ');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: quorumkv\n    static_configs:\n      - targets: [${targets}]\n`);
  const prom: ChildProcess = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  t.teardown(() => prom.kill('SIGKILL'));
  for (let i = 0; i < 10; i++) t.is(await put(leader, `k${i}`), 200);
  const query = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
    if (!res?.ok) return [];
    const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  };
  await pollUntil(async () => (await query('up{job="quorumkv"} == 1')).length === 3, 'Prometheus to find all three nodes up', 60_000, 250);
  await pollUntil(async () => {
    const r = await query('sum(quorumkv_raft_proposals_committed_total)');
    return r.length === 1 && Number(r[0].value[1]) > 0;
  }, 'a non-zero quorumkv_raft_proposals_committed_total in Prometheus', 30_000, 250);
  const leaders = await query('sum(quorumkv_raft_is_leader)');
  t.is(Number(leaders[0].value[1]), 1, 'exactly one node says it leads');
});
