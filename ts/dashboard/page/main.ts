/**
 * The dashboard page: one EventSource on `/v1/dashboard/stream` feeds every widget. `hello`
 * carries the node's history (the charts start with the last 10 minutes), `sample` adds a
 * point to every chart once a second, `cluster` comes at once on a leader change, `book` and
 * `instruments` feed the market view. The browser reconnects by itself; a new hello replaces
 * what the charts held. `?book=SYMBOL` in the page's URL chooses the instrument up front.
 */
import { type SeriesSpec, SignalChart, TimeChart } from './charts.js';
import { byId, renderCluster, renderInstruments, renderLadder, renderReplays, renderTraffic } from './views.js';
import { type ClusterView, type Hello, type Sample, TRAFFIC_CLASSES } from './wire.js';
import { enableAdmin, pageToken, renderTransferTargets } from './admin.js';

const CLASS_COLORS = { read: '#1f77b4', write: '#d62728', ingest: '#2ca02c', bulk: '#9467bd' } as const;
const classSeries: SeriesSpec[] = TRAFFIC_CLASSES.map((c) => ({ label: c, color: CLASS_COLORS[c] }));
/** Monitor signals, their titles and units (apply lag counts entries). */
const SIGNALS: [string, string, string][] = [
  ['latency_read', 'read latency', 'ms'],
  ['latency_write', 'write latency', 'ms'],
  ['latency_ingest', 'ingest latency', 'ms'],
  ['latency_bulk', 'bulk latency', 'ms'],
  ['wal_sync', 'WAL append → fsync', 'ms'],
  ['read_index', 'ReadIndex round', 'ms'],
  ['apply_lag', 'apply lag', 'entries'],
  ['event_loop', 'event-loop delay', 'ms'],
];

const chart = (id: string, title: string, unit: string, series = classSeries, log = false) => new TimeChart({ el: byId(id), title, unit, series, log });
const traffic = {
  ops: chart('chart-ops', 'requests answered', 'ops/s'),
  p50: chart('chart-p50', 'p50 latency', 'ms'),
  p99: chart('chart-p99', 'p99 latency', 'ms'),
  limits: chart('chart-limits', 'throttle limit (concurrency)', 'requests', classSeries, true),
  shed: chart('chart-shed', 'shed (429 throttled)', 'req/s'),
};
const single = (id: string, title: string, unit: string, label: string, color: string) => chart(id, title, unit, [{ label, color }]);
const wal = {
  fsync: single('chart-fsync', 'WAL fsync p99', 'ms', 'p99', '#8c564b'),
  entries: single('chart-entries', 'WAL entries per sync', 'entries', 'entries/sync', '#17becf'),
  apply: single('chart-apply', 'apply lag', 'entries', 'commit − applied', '#ff7f0e'),
  ticks: single('chart-ticks', 'market events ingested', 'events/s', 'events/s', '#2ca02c'),
};
const signals = new Map<string, SignalChart>();
for (const [name, title, unit] of SIGNALS) {
  const el = document.createElement('div');
  el.className = 'chart';
  el.dataset.signal = name;
  byId('signals').append(el);
  signals.set(name, new SignalChart(el, title, unit));
}
const everyChart = [...Object.values(traffic), ...Object.values(wal), ...signals.values()];

let k = 3;
let samples = 0;

function addPoint(s: Sample): void {
  const t = s.t / 1000;
  const per = (f: (c: (typeof TRAFFIC_CLASSES)[number]) => number | null) => TRAFFIC_CLASSES.map(f);
  traffic.ops.push(t, per((c) => s.traffic[c].opsPerS));
  traffic.p50.push(t, per((c) => s.traffic[c].p50Ms));
  traffic.p99.push(t, per((c) => s.traffic[c].p99Ms));
  traffic.limits.push(t, per((c) => s.health.limits[c].limit));
  traffic.shed.push(t, per((c) => s.traffic[c].shedPerS));
  wal.fsync.push(t, [s.wal.fsyncP99Ms]);
  wal.entries.push(t, [s.wal.entriesPerSync]);
  wal.apply.push(t, [s.applyLag]);
  wal.ticks.push(t, [s.market.eventsPerS]);
  for (const [name, c] of signals) {
    const v = s.health.signals[name];
    if (v) c.push(t, v.value, v.mu, v.sigma, k, v.anomaly);
  }
}

function showLatest(s: Sample): void {
  renderCluster(s.cluster);
  renderTransferTargets(s.cluster);
  renderTraffic(s);
  renderReplays(s.market.replays);
  samples++;
  document.body.dataset.samples = String(samples);
}

function connect(book: string): EventSource {
  const query = new URLSearchParams({ depth: '10' });
  if (book) query.set('book', book);
  // With --auth on: /dashboard#token=... (a fragment never reaches the server's logs); an
  // EventSource sends no headers, so the stream takes it as ?access_token= (RFC 6750 §2.3).
  const token = pageToken();
  if (token) query.set('access_token', token);
  const es = new EventSource(`/v1/dashboard/stream?${query}`);
  const conn = byId('conn');
  es.onopen = () => {
    conn.textContent = 'live';
    conn.className = 'badge live';
  };
  es.onerror = () => {
    conn.textContent = 'reconnecting';
    conn.className = 'badge down';
  };
  es.addEventListener('hello', (e) => {
    const hello = JSON.parse((e as MessageEvent<string>).data) as Hello;
    k = hello.k;
    byId('k').textContent = String(k);
    for (const c of everyChart) c.clear();
    for (const s of hello.history) addPoint(s);
    for (const c of everyChart) c.redraw();
    const last = hello.history[hello.history.length - 1];
    if (last) showLatest(last);
  });
  es.addEventListener('sample', (e) => {
    const s = JSON.parse((e as MessageEvent<string>).data) as Sample;
    addPoint(s);
    for (const c of everyChart) c.redraw();
    showLatest(s);
  });
  es.addEventListener('cluster', (e) => {
    const view = JSON.parse((e as MessageEvent<string>).data) as ClusterView;
    renderCluster(view);
    renderTransferTargets(view);
  });
  es.addEventListener('book', (e) => renderLadder(JSON.parse((e as MessageEvent<string>).data) as Parameters<typeof renderLadder>[0]));
  es.addEventListener('instruments', (e) => renderInstruments(JSON.parse((e as MessageEvent<string>).data) as string[]));
  return es;
}

const symbolInput = byId<HTMLInputElement>('symbol');
symbolInput.value = new URLSearchParams(location.search).get('book') ?? '';
let stream = connect(symbolInput.value.trim());
byId('book-form').addEventListener('submit', (e) => {
  e.preventDefault();
  stream.close();
  stream = connect(symbolInput.value.trim());
});
void enableAdmin();
