/**
 * The page's tables and figures, rebuilt from each event. Text from the node (instrument
 * names, addresses) only ever goes through `textContent`: nothing it holds becomes markup.
 */
import { type ClusterView, type ReplayView, type Sample, TRAFFIC_CLASSES } from './wire.js';

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`dashboard: no element #${id}`);
  return el as T;
}

function setText(id: string, text: string): void {
  byId(id).textContent = text;
}

function row(cells: (string | number | null)[], cls?: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === null ? '–' : String(c);
    tr.append(td);
  }
  return tr;
}

export function fixed(v: number | null, digits = 1): string {
  return v === null ? '–' : v.toFixed(digits);
}

export function renderCluster(c: ClusterView): void {
  setText('node', `n${c.node}`);
  setText('role', c.state.replace(/^StateType\./, '').toLowerCase());
  setText('leader', c.leader === null ? 'none' : `n${c.leader}`);
  setText('term', String(c.term));
  setText('commit', String(c.commitIndex));
  setText('applied', String(c.appliedIndex));
  setText('leader-changes', String(c.leaderChanges));
  const rows = c.members.map((m) => {
    const role = m.id === c.leader ? 'leader' : m.learner ? 'learner' : 'follower';
    const active = m.active === null ? null : m.active ? 'yes' : 'no';
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const disk = m.spaceAlarm === null ? 'ok' : `full: ${mib(m.spaceAlarm.freeBytes)} MiB free of a ${mib(m.spaceAlarm.reserveBytes)} MiB reserve`;
    return row([m.name, role, m.client, m.match, m.lag, active, disk], m.id === c.leader ? 'leader' : undefined);
  });
  byId('members').querySelector('tbody')!.replaceChildren(...rows);
  const leads = c.leader === c.node;
  setText('members-hint', leads || c.leader === null ? '' : `match index and lag are tracked by the leader: open n${c.leader}'s dashboard for them`);
}

export function renderTraffic(s: Sample): void {
  const rows = TRAFFIC_CLASSES.map((cls) => {
    const t = s.traffic[cls];
    const l = s.health.limits[cls];
    return row([cls, fixed(t.opsPerS, 0), fixed(t.p50Ms, 2), fixed(t.p99Ms, 2), fixed(t.shedPerS, 0), l.limit, l.inflight]);
  });
  byId('traffic-now').querySelector('tbody')!.replaceChildren(...rows);
  setText('throttle', s.health.throttle ? 'on' : 'off');
}

export function renderReplays(list: ReplayView[]): void {
  const rows = list.map((r) => row([r.id, r.state, r.instruments.join(', '), String(r.speed), r.events, r.marketTime === '0' ? null : new Date(Number(BigInt(r.marketTime) / 1_000_000n)).toISOString(), fixed(r.lagMs, 1)]));
  if (rows.length === 0) rows.push(row(['no open sessions']));
  byId('replays').querySelector('tbody')!.replaceChildren(...rows);
}

export function renderInstruments(list: string[]): void {
  byId('instruments').replaceChildren(...list.map((s) => Object.assign(document.createElement('option'), { value: s })));
  setText('instrument-count', `${list.length} instrument${list.length === 1 ? '' : 's'}`);
}

interface Level {
  price: string;
  size: number;
}

interface BookView {
  instrument: string;
  seq: string;
  bids: Level[];
  asks: Level[];
  spread: string | null;
  maybeBad: boolean;
}

/** The book as a ladder: asks (highest first) above bids, with a size bar per level. */
export function renderLadder(book: BookView): void {
  const biggest = Math.max(1, ...book.bids.map((l) => l.size), ...book.asks.map((l) => l.size));
  const level = (l: Level, side: 'bid' | 'ask') => {
    const tr = document.createElement('tr');
    const size = document.createElement('td');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round((60 * l.size) / biggest)}px`;
    size.append(bar, ` ${l.size}`);
    size.className = side;
    const price = document.createElement('td');
    price.textContent = l.price;
    price.className = side;
    const empty = document.createElement('td');
    tr.append(...(side === 'bid' ? [size, price, empty] : [empty, price, size]));
    tr.dataset.side = side;
    return tr;
  };
  const table = document.createElement('table');
  const head = document.createElement('tr');
  head.append(...['bid size', 'price', 'ask size'].map((label) => Object.assign(document.createElement('th'), { textContent: label })));
  const body = document.createElement('tbody');
  body.append(...[...book.asks].reverse().map((l) => level(l, 'ask')), ...book.bids.map((l) => level(l, 'bid')));
  table.append(head, body);
  const caption = document.createElement('p');
  caption.className = 'hint';
  caption.textContent = `${book.instrument} · seq ${book.seq} · spread ${book.spread ?? '–'}${book.maybeBad ? ' · maybe bad (a gap was seen)' : ''}`;
  byId('ladder').replaceChildren(caption, table);
}
