/**
 * The dashboard's data: once a second the node's view (cluster, traffic per class, WAL, apply
 * lag, monitor signals, throttle limits, market data) becomes one Sample, kept in a bounded
 * history (`HISTORY_SAMPLES_MAX`: 10 minutes) so a page opened now has a past, and sent to
 * every open stream as one serialized string. A leader change is sent at once, not a second
 * later. Request latencies and WAL syncs arrive through the health loop's tap.
 */
import type { RequestClass, ThrottledClass } from '../monitor/classes';
import type { HealthTap, NodeHealth } from '../monitor/node_health';
import { SIGNALS } from '../monitor/monitor';
import type { RaftNode } from '../node/raft_node';
import type { PeerAddress } from '../transport/peer';
import { LatencyWindow } from './latency_window';
import { type ClassTraffic, type ClusterView, type Hello, type ReplayView, type Sample, type SignalView, TRAFFIC_CLASSES, type TrafficClass } from './page/wire';

export const SAMPLE_EVERY_MS = 1000;
/** 10 minutes at one sample a second. */
export const HISTORY_SAMPLES_MAX = 600;
/** Replay sessions listed per sample (the page shows the first ones). */
export const REPLAYS_SHOWN_MAX = 16;

/** Rates and times sent with three decimals: the page shows fewer, and the stream stays small. */
const r3 = (v: number): number => Math.round(v * 1000) / 1000;
const r3n = (v: number | null): number | null => (v === null ? null : r3(v));

export interface DashboardListener {
  /** `event` is the SSE event name; `data` its serialized JSON. */
  send(event: string, data: string): void;
}

class ClassCounters {
  readonly latency = new LatencyWindow();
  errors = 0;
}

export class DashboardSampler implements HealthTap {
  /** Serialized samples, oldest first: a new stream's hello joins them (no re-serializing 600). */
  private readonly history: string[] = [];
  private readonly listeners = new Set<DashboardListener>();
  private readonly classes = new Map<TrafficClass, ClassCounters>(TRAFFIC_CLASSES.map((c) => [c, new ClassCounters()]));
  private readonly walSyncs = new LatencyWindow();
  private walEntries = 0;
  private leaderChanges = 0;
  private lastAtMs = performance.now();
  private lastEvents: number;
  private lastShed: Record<ThrottledClass, number>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: RaftNode,
    private readonly health: NodeHealth,
    private readonly client: PeerAddress,
    private readonly replays: () => Record<string, unknown>[],
  ) {
    this.lastEvents = node.market.eventsApplied;
    this.lastShed = this.shedTotals();
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  answered(cls: RequestClass, status: number, ms: number): void {
    if (cls === 'control') return;
    const c = this.classes.get(cls)!;
    c.latency.record(ms);
    if (status >= 500) c.errors++;
  }

  walSync(ms: number, entries: number): void {
    this.walSyncs.record(ms);
    this.walEntries += entries;
  }

  leaderChanged(): void {
    this.leaderChanges++;
    if (this.listeners.size === 0) return;
    const text = JSON.stringify(this.cluster());
    for (const l of this.listeners) l.send('cluster', text);
  }

  get streams(): number {
    return this.listeners.size;
  }

  /** Adds a stream; returns its hello (a Hello, serialized: the history so far). */
  subscribe(listener: DashboardListener): string {
    this.listeners.add(listener);
    const head: Omit<Hello, 'history'> = { node: this.node.id, k: this.health.cfg.detector.k, sampleEveryMs: SAMPLE_EVERY_MS };
    return `${JSON.stringify(head).slice(0, -1)},"history":[${this.history.join(',')}]}`;
  }

  unsubscribe(listener: DashboardListener): void {
    this.listeners.delete(listener);
  }

  /** Takes one sample, keeps it, and sends it to every stream. */
  sample(): Sample {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.lastAtMs) / 1000);
    this.lastAtMs = now;
    const st = this.node.status();
    const s: Sample = {
      t: Date.now(),
      cluster: this.cluster(st),
      traffic: this.traffic(seconds),
      wal: this.wal(seconds),
      applyLag: Math.max(0, st.commitIndex - st.appliedIndex),
      health: this.healthView(),
      market: this.market(seconds),
    };
    const text = JSON.stringify(s);
    this.history.push(text);
    if (this.history.length > HISTORY_SAMPLES_MAX) this.history.shift();
    for (const l of this.listeners) l.send('sample', text);
    return s;
  }

  cluster(st = this.node.status()): ClusterView {
    const progress = this.node.replication();
    const alarms = new Map(this.node.space.alarms());
    const members = this.node.memberList(this.client).map((m) => {
      const pr = progress.get(m.id);
      const alarm = alarms.get(m.id);
      const spaceAlarm = alarm ? { freeBytes: alarm.freeBytes, reserveBytes: alarm.reserveBytes } : null;
      return { id: m.id, name: m.name, learner: m.learner, client: m.client, match: pr?.match ?? null, lag: pr ? Math.max(0, st.commitIndex - pr.match) : null, active: pr?.recentActive ?? null, spaceAlarm };
    });
    return { node: st.id, leader: st.leader || null, term: st.term, state: st.state, commitIndex: st.commitIndex, appliedIndex: st.appliedIndex, leaderChanges: this.leaderChanges, members };
  }

  private traffic(seconds: number): Record<TrafficClass, ClassTraffic> {
    const shed = this.shedTotals();
    const out = {} as Record<TrafficClass, ClassTraffic>;
    for (const [cls, c] of this.classes) {
      const l = c.latency;
      out[cls] = { opsPerS: r3(l.count / seconds), p50Ms: r3n(l.quantileMs(0.5)), p99Ms: r3n(l.quantileMs(0.99)), shedPerS: r3((shed[cls] - this.lastShed[cls]) / seconds), errorsPerS: r3(c.errors / seconds) };
      c.latency.reset();
      c.errors = 0;
    }
    this.lastShed = shed;
    return out;
  }

  private wal(seconds: number): Sample['wal'] {
    const syncs = this.walSyncs.count;
    const out = { syncsPerS: r3(syncs / seconds), fsyncP99Ms: r3n(this.walSyncs.quantileMs(0.99)), entriesPerSync: syncs === 0 ? null : r3(this.walEntries / syncs) };
    this.walSyncs.reset();
    this.walEntries = 0;
    return out;
  }

  private healthView(): Sample['health'] {
    const snap = this.health.monitor.snapshot();
    const signals: Record<string, SignalView> = {};
    for (const name of SIGNALS) {
      const v = snap[name];
      signals[name] = { value: r3n(v.lastValue), mu: r3(v.mu), sigma: r3(v.sigma), anomaly: v.state === 'anomaly' };
    }
    const limits = {} as Sample['health']['limits'];
    const classes = this.health.limiter.snapshot();
    for (const cls of TRAFFIC_CLASSES) limits[cls] = { limit: classes[cls].limit, inflight: classes[cls].inflight, queued: classes[cls].queued };
    return { throttle: this.health.throttle, signals, limits };
  }

  private market(seconds: number): Sample['market'] {
    const m = this.node.market;
    const events = m.eventsApplied;
    const eventsPerS = r3((events - this.lastEvents) / seconds);
    this.lastEvents = events;
    const replays = this.replays()
      .slice(0, REPLAYS_SHOWN_MAX)
      .map((p) => ({ id: p.id, state: p.state, instruments: p.instruments, speed: p.speed, events: p.events, lagMs: p.lagMs, marketTime: p.marketTime }) as ReplayView);
    return { eventsPerS, instruments: m.instrumentCount, replays };
  }

  private shedTotals(): Record<ThrottledClass, number> {
    const snap = this.health.limiter.snapshot();
    const out = {} as Record<ThrottledClass, number>;
    for (const cls of TRAFFIC_CLASSES) out[cls] = snap[cls].shedTotal;
    return out;
  }
}
