/**
 * Maintenance commands (admin):
 * - `quorumkv defrag [--cluster]`: compact a member's storage now (`POST /v1/maintenance/defrag`),
 *   so the space of deleted keys, purged market data and overwritten values comes back; with
 *   `--cluster` every member's, as etcdctl's `defrag --cluster`. Members go one at a time: a
 *   compaction takes disk bandwidth and a core, and one member busy at a time leaves a majority
 *   at full speed.
 * - `quorumkv hash [--cluster]`: commit a hash entry and print the member's digest of the state
 *   as of it; with `--cluster` every member's digest of that same state, and whether they agree
 *   (etcdctl's `endpoint hashkv --cluster`): a member whose digest differs from the majority's
 *   holds different data.
 * Each prints JSON; exit 1 if a member failed, or digests differ.
 */
import type { Command } from 'commander';
import { endpointOption, send } from './client';
import { call, callAny } from './http_client';
import { type Member, membersOf } from './status';

const DEFRAG = '/v1/maintenance/defrag';
const HASH = '/v1/maintenance/hash';
/** How long `hash --cluster` waits for a lagging member to apply the hash entry. */
const HASH_WAIT_MS = 10_000;
const HASH_POLL_MS = 100;

type Row = Record<string, unknown>;

const rowOf = (m: Member): Row => ({ id: m.id, name: m.name, client: m.client });
const noAddress = { code: 'no_client_address', message: 'no client address is known for this member yet' };

/** Each member's defrag in turn: `{"members":[{id, name, ...its answer or error}]}`. */
async function defragCluster(endpoints: readonly string[]): Promise<number> {
  const listing = await membersOf(endpoints);
  if (listing === undefined) return 1;
  const rows: Row[] = [];
  for (const m of listing.members) {
    if (!m.client) {
      rows.push({ ...rowOf(m), error: noAddress });
      continue;
    }
    try {
      const res = await call(`${listing.scheme}//${m.client}${DEFRAG}`, { method: 'POST', timeoutMs: null });
      const body = (await res.json()) as Row;
      rows.push(res.ok ? { ...rowOf(m), ...body } : { ...rowOf(m), error: body.error });
    } catch (err) {
      rows.push({ ...rowOf(m), error: { code: 'unreachable', message: (err as Error).message } });
    }
  }
  console.log(JSON.stringify({ members: rows }, null, 2));
  return rows.every((r) => r.error === undefined) ? 0 : 1;
}

/** Member `m`'s digest at entry `index`, waiting while it has not applied it yet. */
async function digestRow(scheme: string, m: Member, index: number): Promise<Row> {
  if (!m.client) return { ...rowOf(m), error: noAddress };
  const deadline = Date.now() + HASH_WAIT_MS;
  for (;;) {
    try {
      const res = await call(`${scheme}//${m.client}${HASH}?index=${index}`);
      const body = (await res.json()) as { sha256?: string; error?: { code?: string; appliedIndex?: number } };
      if (res.ok) return { ...rowOf(m), sha256: body.sha256 };
      const behind = body.error?.code === 'not_found' && (body.error.appliedIndex ?? 0) < index;
      if (!behind || Date.now() > deadline) return { ...rowOf(m), error: body.error };
    } catch (err) {
      return { ...rowOf(m), error: { code: 'unreachable', message: (err as Error).message } };
    }
    await new Promise((r) => setTimeout(r, HASH_POLL_MS));
  }
}

/** One hash entry, then every member's digest of the state as of it. */
async function hashCluster(endpoints: readonly string[]): Promise<number> {
  const listing = await membersOf(endpoints);
  if (listing === undefined) return 1;
  // (Repeating it on another member is safe: a hash entry changes nothing.)
  const res = await callAny(endpoints, HASH, { method: 'POST' }, true);
  const first = (await res.json()) as { index?: number };
  if (!res.ok || first.index === undefined) {
    console.log(JSON.stringify(first, null, 2));
    return 1;
  }
  const index = first.index;
  const rows = await Promise.all(listing.members.map((m) => digestRow(listing.scheme, m, index)));
  const counts = new Map<string, number>();
  for (const r of rows) if (typeof r.sha256 === 'string') counts.set(r.sha256, (counts.get(r.sha256) ?? 0) + 1);
  const majority = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  for (const r of rows) if (r.sha256 !== undefined && r.sha256 !== majority) r.differs = true;
  const consistent = counts.size === 1 && rows.every((r) => r.error === undefined);
  console.log(JSON.stringify({ index, consistent, members: rows }, null, 2));
  return consistent ? 0 : 1;
}

export function maintenanceCommands(program: Command): void {
  program
    .command('defrag')
    .description("compact a member's storage now, so the space of deleted keys and purged market data comes back (admin; the member --endpoint names)")
    .addOption(endpointOption())
    .option('--cluster', 'every member in turn, one at a time (the member list from --endpoint)')
    .action(async (o: { endpoint: string[]; cluster?: boolean }) => {
      process.exitCode = o.cluster ? await defragCluster(o.endpoint) : await send(o.endpoint.slice(0, 1), { method: 'POST', path: DEFRAG, slow: true });
    });
  program
    .command('hash')
    .description("a digest of the member's state as of a new log entry; with --cluster every member's, and whether they agree (admin)")
    .addOption(endpointOption())
    .option('--cluster', 'every member\'s digest of the same state; exit 1 if one differs or does not answer')
    .action(async (o: { endpoint: string[]; cluster?: boolean }) => {
      process.exitCode = o.cluster ? await hashCluster(o.endpoint) : await send(o.endpoint, { method: 'POST', path: HASH, slow: true });
    });
}
