/**
 * The membership API: list, add (voter or learner), promote a learner, remove.
 *
 *   GET    /v1/cluster/members[?consistency=stale]     → {"members":[...], "leader", "term", "confIndex"}
 *   POST   /v1/cluster/members {"id","peer","client"?,"learner"?}  → 201 {"member", "members"}
 *   POST   /v1/cluster/members/{id}/promote             → {"member", "members"}
 *   DELETE /v1/cluster/members/{id}                     → {"removed", "members"}
 *
 * Each change is one single-server change through the log, answered once applied here.
 * Removing the leader first hands leadership to another voter, so the cluster sees no
 * election gap.
 */
import { ConfChangeType } from '../raft/types';
import { HttpError, badRequest } from './errors';
import { type ApiContext, addressField, barrier, memberId } from './routes';

interface Reply {
  status?: number;
  body?: unknown;
}

export async function listMembers(ctx: ApiContext, url: URL): Promise<Reply> {
  await barrier(ctx, url);
  return { body: membersBody(ctx) };
}

function membersBody(ctx: ApiContext): { members: unknown[]; leader: number | null; term: number; confIndex: number } {
  const st = ctx.node.status();
  return { members: ctx.node.memberList(ctx.client), leader: st.leader || null, term: st.term, confIndex: ctx.node.members().confIndex };
}

function memberOf(ctx: ApiContext, id: number): unknown {
  return ctx.node.memberList(ctx.client).find((m) => m.id === id) ?? null;
}

export async function addMember(ctx: ApiContext, doc: unknown): Promise<Reply> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest('invalid_body', 'the body must be {"id", "peer", "client"?, "learner"?}');
  const body = doc as Record<string, unknown>;
  const id = memberId(body.id);
  const peer = addressField(body, 'peer', true)!;
  const client = addressField(body, 'client', false);
  if (body.learner !== undefined && typeof body.learner !== 'boolean') throw badRequest('invalid_body', '"learner" must be true or false');
  const type = body.learner === true ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
  if (ctx.node.members().learners.includes(id)) throw new HttpError(409, 'member_exists', `n${id} is already a learner (promote it instead)`);
  await ctx.node.changeMembership(type, id, { peer, client });
  return { status: 201, body: { member: memberOf(ctx, id), ...membersBody(ctx) } };
}

export async function promoteMember(ctx: ApiContext, id: number): Promise<Reply> {
  const rec = ctx.node.members();
  if (rec.voters.includes(id)) throw new HttpError(409, 'not_learner', `n${id} is already a voter`);
  if (!rec.learners.includes(id)) throw new HttpError(404, 'unknown_member', `n${id} is not a member`);
  await ctx.node.changeMembership(ConfChangeType.AddNode, id);
  return { body: { member: memberOf(ctx, id), ...membersBody(ctx) } };
}

export async function removeMember(ctx: ApiContext, id: number): Promise<Reply> {
  const rec = ctx.node.members();
  if (!rec.voters.includes(id) && !rec.learners.includes(id)) throw new HttpError(404, 'unknown_member', `n${id} is not a member`);
  if (ctx.node.status().leader === id) {
    // Hand over first: a leader that removes itself steps down and leaves an election gap.
    const to = rec.voters.filter((v) => v !== id).sort((a, b) => a - b)[0];
    if (to !== undefined) await ctx.node.transferLeadership(ctx.node.isLeader ? (ctx.node.bestTransferee() ?? to) : to);
  }
  await ctx.node.changeMembership(ConfChangeType.RemoveNode, id);
  return { body: { removed: id, ...membersBody(ctx) } };
}
