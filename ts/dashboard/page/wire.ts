/**
 * The dashboard stream's wire shapes (`GET /v1/dashboard/stream`, server-sent events), shared by
 * the node (ts/dashboard) and the page (ts/dashboard/page). Types only: nothing here runs.
 *
 *   event: hello        Hello    at open: the node's history (oldest first) and settings
 *   event: sample       Sample   every second
 *   event: cluster      ClusterView  at once when the known leader changes
 *   event: book         the book of the chosen instrument, in GET /v1/md/books's shape
 *   event: instruments  string[]  the instruments known, at open and when new ones appear
 *
 * Times are milliseconds (epoch for `t`); a null value means "no data in that second".
 */
export const TRAFFIC_CLASSES = ['read', 'write', 'ingest', 'bulk'] as const;
export type TrafficClass = (typeof TRAFFIC_CLASSES)[number];

export interface MemberView {
  id: number;
  name: string;
  learner: boolean;
  client: string | null;
  /** Leader only: the member's replicated (match) index and how far it is behind the leader's commit. */
  match: number | null;
  lag: number | null;
  /** Leader only: heard from within the last election timeout. */
  active: boolean | null;
  /** The member's disk-space alarm, while raised (writes that add data are refused meanwhile). */
  spaceAlarm: { freeBytes: number; reserveBytes: number } | null;
}

export interface ClusterView {
  node: number;
  leader: number | null;
  term: number;
  state: string;
  commitIndex: number;
  appliedIndex: number;
  leaderChanges: number;
  members: MemberView[];
}

export interface ClassTraffic {
  opsPerS: number;
  p50Ms: number | null;
  p99Ms: number | null;
  shedPerS: number;
  errorsPerS: number;
}

export interface SignalView {
  value: number | null;
  mu: number;
  sigma: number;
  anomaly: boolean;
}

export interface LimitView {
  limit: number;
  inflight: number;
  queued: number;
}

export interface ReplayView {
  id: string;
  state: string;
  instruments: string[];
  speed: number | string;
  events: number;
  lagMs: number;
  marketTime: string;
}

export interface Sample {
  t: number;
  cluster: ClusterView;
  traffic: Record<TrafficClass, ClassTraffic>;
  wal: { syncsPerS: number; fsyncP99Ms: number | null; entriesPerSync: number | null };
  applyLag: number;
  health: { throttle: boolean; signals: Record<string, SignalView>; limits: Record<TrafficClass, LimitView> };
  market: { eventsPerS: number; instruments: number; replays: ReplayView[] };
}

export interface Hello {
  node: number;
  /** The anomaly threshold k: the band drawn is μ ± kσ. */
  k: number;
  sampleEveryMs: number;
  history: Sample[];
}
