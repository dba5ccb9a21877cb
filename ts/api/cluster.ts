/** Cluster routes: the node's view (`/v1/cluster`), `/health`, and leadership transfer. */
import { QuorumError } from '../errors';
import type { ApiContext } from './context';
import { memberId, onlyFields, parseObject } from './args';
import type { Reply } from './reply';

/** `POST /v1/cluster/leader {"id": 2 | "n2"}` → `{"leader", "term"}` once the move is seen. */
export async function transferLeader(ctx: ApiContext, body: Buffer): Promise<Reply> {
  const shape = '{"id": <member id, e.g. 2 or "n2">}';
  const doc = parseObject(body, shape);
  onlyFields(doc, new Set(['id']), 'the body');
  let id: number;
  try {
    id = memberId(doc.id);
  } catch {
    throw new QuorumError('invalid_body', `the body must be ${shape}`);
  }
  if (!ctx.node.members().voters.includes(id)) throw new QuorumError('unknown_member', `n${id} is not a voting member`);
  const term = await ctx.node.transferLeadership(id);
  return { body: { leader: id, term } };
}

export function cluster(ctx: ApiContext): Reply {
  const st = ctx.node.status();
  return {
    body: {
      id: st.id,
      clusterId: ctx.node.clusterId,
      leader: st.leader || null,
      term: st.term,
      commitIndex: st.commitIndex,
      appliedIndex: st.appliedIndex,
      snapshotIndex: st.snapshotIndex,
      firstLogIndex: st.firstLogIndex,
      state: st.state,
      learner: st.learner,
      members: ctx.node.memberList(ctx.client),
      alarms: alarmList(ctx),
    },
  };
}

/** The raised disk-space alarms (node/space_guard.ts): while any is, writes that add data are refused 507 `no_space`. */
function alarmList(ctx: ApiContext): { member: number; alarm: 'nospace'; freeBytes: number; reserveBytes: number; index: number }[] {
  return ctx.node.space.alarms().map(([member, a]) => ({ member, alarm: 'nospace', ...a }));
}

export function health(ctx: ApiContext): Reply {
  const st = ctx.node.status();
  if (st.leader === 0) throw new QuorumError('unavailable', 'no known leader', { headers: { 'retry-after': '1' } });
  // Up (reads and deletes are served) even with a disk alarm raised: the body names it.
  const alarms = alarmList(ctx);
  return { body: { ok: true, leader: st.leader, term: st.term, ...(alarms.length > 0 ? { alarms } : {}) } };
}
