/**
 * `GET /metrics`: the node's series in Prometheus text format. Counters and histograms are
 * recorded as things happen (prom-client: ~0.1–0.7 µs each; the two touched on every request are
 * plain counts instead, route_stats.ts); gauges are read
 * at scrape time (`collect`); durations measured inside the addon are rendered by the addon in
 * one call and appended. Labels stay few: the route template (never a raw key) and the status
 * class; buckets double from 0.5 ms, as TiKV's do.
 */
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';
import type { RaftNode } from '../node/raft_node';
import type { BackupMetricsView } from '../backup/full';
import { THROTTLED_CLASSES, type ThrottledClass } from './classes';
import type { ConcurrencyLimiter } from './limiter';
import { type HealthMonitor, SIGNALS, type SignalSnapshot } from './monitor';
import { RouteStats } from './route_stats';

const P = 'quorumkv_';
const SECONDS_BUCKETS = exponentialBuckets(0.0005, 2, 15);

export class NodeMetrics {
  readonly registry = new Registry();
  /** The two per-request series (route_stats.ts: plain counts, rendered at scrape). */
  private readonly routes = new RouteStats(`${P}http_requests_total`, `${P}http_request_duration_seconds`, SECONDS_BUCKETS);
  private readonly readIndexSeconds: Histogram;
  private readonly leaderChanges: Counter;
  private readonly committed: Counter;
  private readonly failed: Counter<'reason'>;
  private readonly snapshotsSent: Counter;
  private readonly throttled: Counter<'class'>;
  private readonly scrapeSeconds: Gauge;

  constructor(
    private readonly node: RaftNode,
    monitor: HealthMonitor,
    limiter: ConcurrencyLimiter,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.readIndexSeconds = new Histogram({ name: `${P}raft_read_index_duration_seconds`, help: 'ReadIndex round time (one heartbeat round per batch of reads)', buckets: SECONDS_BUCKETS, registers });
    this.leaderChanges = new Counter({ name: `${P}raft_leader_changes_total`, help: 'Times the known leader changed', registers });
    this.committed = new Counter({ name: `${P}raft_proposals_committed_total`, help: 'Proposals applied and answered on this node', registers });
    this.failed = new Counter({ name: `${P}raft_proposals_failed_total`, help: 'Proposals answered with an error, by error code', labelNames: ['reason'], registers });
    this.snapshotsSent = new Counter({ name: `${P}raft_snapshots_sent_total`, help: 'Snapshots streamed to followers', registers });
    this.scrapeSeconds = new Gauge({ name: `${P}scrape_duration_seconds`, help: 'Time the previous scrape took to render (the event loop is busy for about that long)', registers });
    this.throttled = new Counter({ name: `${P}throttled_requests_total`, help: 'Requests shed with 429 throttled, by class', labelNames: ['class'], registers });
    this.raftGauges(node);
    this.monitorGauges(monitor, limiter);
    this.streamGauges(node);
  }

  /** One answered request (`route`: the template; `seconds`: from admission to answer). */
  request(route: string, status: number, seconds: number): void {
    this.routes.observe(route, status, seconds);
  }

  shed(cls: ThrottledClass): void {
    this.throttled.inc({ class: cls });
  }

  readIndex(ms: number): void {
    this.readIndexSeconds.observe(ms / 1000);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  proposalSettled(err: Error | undefined): void {
    if (!err) this.committed.inc();
    else this.failed.inc({ reason: (err as Error & { code?: string }).code ?? 'error' });
  }

  snapshotSent(): void {
    this.snapshotsSent.inc();
  }

  /**
   * The whole exposition: prom-client's series, then the addon's. Rendered one metric per turn
   * of the event loop (the same text as `registry.metrics()`): all at once it held the loop ~3 ms
   * (p50; 9 ms p99, `npm run bench:scrape`), mostly Node's default process metrics; one at a
   * time, the longest hold is the slowest single metric.
   */
  async render(): Promise<string> {
    const started = performance.now();
    const parts: string[] = [];
    for (const metric of this.registry.getMetricsAsArray()) {
      parts.push(await this.registry.getSingleMetricAsString(metric.name));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const text = `${parts.join('\n\n')}\n\n${this.routes.render()}${this.node.engine.metricsText()}`;
    this.scrapeSeconds.set((performance.now() - started) / 1000);
    return text;
  }

  /** Backup gauges, read from the node's backups at scrape time. */
  trackBackups(read: () => BackupMetricsView): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, value: (v: ReturnType<typeof read>) => number | undefined) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        registers,
        collect(this: Gauge) {
          const v = value(read());
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    gauge('backup_last_success_timestamp_seconds', 'When the last full backup taken through this node completed (RPO of full backups: time() minus this)', (v) => (v.lastSuccessMs === undefined ? undefined : v.lastSuccessMs / 1000));
    gauge('backup_last_duration_seconds', 'How long the last full backup took', (v) => (v.lastDurationMs === undefined ? undefined : v.lastDurationMs / 1000));
    gauge('backup_last_uploaded_bytes', 'Bytes the last full backup uploaded (SSTs the target had are not)', (v) => v.lastBytesUploaded);
    gauge('backup_failures', 'Full backups (or their retention) that failed since the node started', (v) => v.failures);
    gauge('backup_lag_seconds', 'Continuous log backup: age of the oldest committed entry not yet shipped (the live RPO; on the shipping leader only)', (v) => v.logLagSeconds);
  }

  private raftGauges(node: RaftNode): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name: `${P}${name}`, help, registers, collect(this: Gauge) { this.set(read()); } });
    gauge('raft_term', 'Current Raft term', () => node.status().term);
    gauge('raft_is_leader', '1 when this node leads', () => (node.isLeader ? 1 : 0));
    gauge('raft_commit_index', 'Highest log index known committed', () => node.status().commitIndex);
    gauge('raft_applied_index', 'Highest log index applied to the state machine', () => node.status().appliedIndex);
    gauge('raft_proposals_pending', 'Proposals accepted and not yet answered', () => node.requests.proposalsPending);
    gauge('raft_reads_pending', 'Linearizable reads accepted and not yet answered', () => node.requests.readsPending);
    new Counter({
      name: `${P}raft_read_index_retries_total`,
      help: 'ReadIndex rounds a follower asked for again after 500 ms without an answer (a request or answer lost on a peer link)',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(node.requests.readIndexRetries);
      },
    });
    gauge('space_free_bytes', 'Free bytes of the file system holding this node\'s data, at its last check (-1: not read yet, or --space-reserve-mib 0)', () => node.space.freeBytes ?? -1);
    gauge('space_alarms', 'Members whose disk is below its reserve: while above 0, writes that add data are refused 507 no_space', () => node.space.alarms().length);
    gauge('apply_lag_entries', 'Committed entries not yet applied', () => {
      const st = node.status();
      return Math.max(0, st.commitIndex - st.appliedIndex);
    });
    new Gauge({
      name: `${P}raft_peer_reachable`,
      help: '1 while this node holds a connection to the peer',
      labelNames: ['peer'],
      registers,
      collect(this: Gauge<'peer'>) {
        this.reset();
        for (const p of node.peerReachability()) this.set({ peer: String(p.peer) }, p.up ? 1 : 0);
      },
    });
  }

  /** Market data and long-lived reads, read at scrape time (counters since the process started). */
  private streamGauges(node: RaftNode): void {
    const registers = [this.registry];
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name: `${P}${name}`,
        help,
        registers,
        collect(this: Counter) {
          this.reset();
          this.inc(read());
        },
      });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name: `${P}${name}`, help, registers, collect(this: Gauge) { this.set(read()); } });
    counter('md_events_applied_total', 'Market-data events applied on this node (duplicates not counted)', () => node.market.eventsApplied);
    counter('md_duplicates_total', 'Market-data events dropped as duplicates (at or below their producer\'s producerSeq)', () => node.market.duplicatesDropped);
    counter('md_gaps_total', 'venueSeq gaps found in ingested market data', () => node.market.gapsFound);
    gauge('md_instruments', 'Instruments with ingested market data', () => node.market.instrumentCount);
    gauge('md_producers', 'Market-data producers known', () => node.market.producerCount);
    gauge('md_streams', 'Live market-data streams open on this node', () => node.market.stream.count);
    gauge('md_replay_sessions', 'Replay sessions open on this node', () => node.market.replays.size);
    gauge('watch_streams', 'KV watch streams open on this node', () => node.feed.watcherCount);
    gauge('kv_ttl_keys', 'Keys with a TTL (at most 100,000)', () => node.keys.ttl.size);
    counter('kv_keys_expired_total', 'Keys deleted on this node because their TTL ended', () => node.keys.ttl.expiredTotal);
  }

  private monitorGauges(monitor: HealthMonitor, limiter: ConcurrencyLimiter): void {
    const registers = [this.registry];
    const perSignal = (name: string, help: string, read: (s: SignalSnapshot) => number) =>
      new Gauge({
        name: `${P}${name}`,
        help,
        labelNames: ['signal'],
        registers,
        collect(this: Gauge<'signal'>) {
          const snap = monitor.snapshot();
          for (const s of SIGNALS) this.set({ signal: s }, read(snap[s]));
        },
      });
    perSignal('monitor_residual', 'Last window value minus its EWMA baseline', (s) => s.residual);
    perSignal('monitor_zscore', 'Last window residual in baseline standard deviations', (s) => s.z);
    perSignal('monitor_anomaly', '1 while the signal is in an anomaly', (s) => (s.state === 'anomaly' ? 1 : 0));
    new Gauge({
      name: `${P}throttle_limit`,
      help: 'Concurrency limit per request class',
      labelNames: ['class'],
      registers,
      collect(this: Gauge<'class'>) {
        const snap = limiter.snapshot();
        for (const c of THROTTLED_CLASSES) this.set({ class: c }, snap[c].limit);
      },
    });
  }
}
