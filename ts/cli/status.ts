/**
 * `quorumkv status --cluster`: every member's own view of the cluster, as etcdctl's `endpoint
 * status --cluster` — in an outage, which members answer, whom each believes leads, and how far
 * each has committed and applied. The member list comes from the first endpoint that answers;
 * each member is then asked at its own client address (in the endpoints' scheme). Exit 0 when
 * every member answered, 1 otherwise.
 */
import { call, callAny } from './http_client';

export interface Member {
  id: number;
  name?: string;
  learner?: boolean;
  client: string | null;
}

/** A member's row: its own `/v1/cluster` figures, or why it did not give them. */
type Row = Record<string, unknown>;

const VIEW_FIELDS = ['state', 'leader', 'term', 'commitIndex', 'appliedIndex', 'snapshotIndex'] as const;

async function memberRow(scheme: string, m: Member): Promise<Row> {
  const base = { id: m.id, name: m.name, client: m.client, learner: m.learner ?? false };
  // A member publishes its client address through the log once it has started.
  if (!m.client) return { ...base, error: { code: 'no_client_address', message: 'no client address is known for this member yet' } };
  try {
    const res = await call(`${scheme}//${m.client}/v1/cluster`);
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) return { ...base, error: body.error };
    return { ...base, ...Object.fromEntries(VIEW_FIELDS.map((f) => [f, body[f]])) };
  } catch (err) {
    return { ...base, error: { code: 'unreachable', message: (err as Error).message } };
  }
}

/**
 * The members, from the first endpoint that answers, with the scheme to reach them in (the
 * endpoints'); or that endpoint's refusal, printed.
 */
export async function membersOf(endpoints: readonly string[]): Promise<{ scheme: string; members: Member[] } | undefined> {
  const res = await callAny(endpoints, '/v1/cluster/members?consistency=stale');
  const text = await res.text();
  if (!res.ok) {
    console.log(text);
    return undefined;
  }
  return { scheme: new URL(endpoints[0]).protocol, members: (JSON.parse(text) as { members: Member[] }).members };
}

export async function clusterStatus(endpoints: readonly string[]): Promise<number> {
  const listing = await membersOf(endpoints);
  if (listing === undefined) return 1;
  const rows = await Promise.all(listing.members.map((m) => memberRow(listing.scheme, m)));
  console.log(JSON.stringify({ members: rows }, null, 2));
  return rows.every((r) => r.error === undefined) ? 0 : 1;
}
