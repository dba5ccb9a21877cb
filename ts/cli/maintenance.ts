/**
 * `quorumkv defrag [--cluster]`: compact a member's storage now (`POST /v1/maintenance/defrag`,
 * admin), so the space of deleted keys, purged market data and overwritten values comes back;
 * with `--cluster` every member's, as etcdctl's `defrag --cluster`. Members go one at a time: a
 * compaction takes disk bandwidth and a core, and one member busy at a time leaves a majority
 * at full speed. Each answer is printed; exit 1 if any member's defrag failed.
 */
import type { Command } from 'commander';
import { endpointOption, send } from './client';
import { call } from './http_client';
import { membersOf } from './status';

const PATH = '/v1/maintenance/defrag';

/** Each member's defrag in turn: `{"members":[{id, name, ...its answer or error}]}`. */
async function defragCluster(endpoints: readonly string[]): Promise<number> {
  const listing = await membersOf(endpoints);
  if (listing === undefined) return 1;
  const rows: Record<string, unknown>[] = [];
  for (const m of listing.members) {
    const base = { id: m.id, name: m.name, client: m.client };
    if (!m.client) {
      rows.push({ ...base, error: { code: 'no_client_address', message: 'no client address is known for this member yet' } });
      continue;
    }
    try {
      const res = await call(`${listing.scheme}//${m.client}${PATH}`, { method: 'POST', timeoutMs: null });
      const body = (await res.json()) as Record<string, unknown>;
      rows.push(res.ok ? { ...base, ...body } : { ...base, error: body.error });
    } catch (err) {
      rows.push({ ...base, error: { code: 'unreachable', message: (err as Error).message } });
    }
  }
  console.log(JSON.stringify({ members: rows }, null, 2));
  return rows.every((r) => r.error === undefined) ? 0 : 1;
}

export function defragCommand(program: Command): void {
  program
    .command('defrag')
    .description("compact a member's storage now, so the space of deleted keys and purged market data comes back (admin; the member --endpoint names)")
    .addOption(endpointOption())
    .option('--cluster', 'every member in turn, one at a time (the member list from --endpoint)')
    .action(async (o: { endpoint: string[]; cluster?: boolean }) => {
      process.exitCode = o.cluster ? await defragCluster(o.endpoint) : await send(o.endpoint.slice(0, 1), { method: 'POST', path: PATH, slow: true });
    });
}
