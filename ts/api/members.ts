/**
 * The membership API: list, add (voter or learner), promote a learner, remove.
 *
 *   GET    /v1/cluster/members[?consistency=stale]     → {"clusterId", "members":[...], "leader", "term", "confIndex"}
 *   POST   /v1/cluster/members {"id","peer","client"?,"learner"?}  → 201 {"member", "members"}
 *   POST   /v1/cluster/members/{id}/promote             → {"member", "members"}
 *   DELETE /v1/cluster/members/{id}                     → {"removed", "members"}
 *
 * Each change is one single-server change through the log, answered once applied here.
 * Removing the leader first hands leadership to another voter, so the cluster sees no
 * election gap.
 */
import { QuorumError } from '../errors';
import { checkMemberChange } from '../node/membership';
import { addressField, memberId, onlyFields } from './args';
import type { ApiContext } from './context';
import { barrier } from './kv';
import type { Reply } from './reply';

export async function listMembers(ctx: ApiContext, query: URLSearchParams): Promise<Reply> {
  await barrier(ctx.node, query);
  return { body: membersBody(ctx) };
}

function membersBody(ctx: ApiContext): { clusterId: string; members: unknown[]; leader: number | null; term: number; confIndex: number } {
  const st = ctx.node.status();
  return { clusterId: ctx.node.clusterId, members: ctx.node.memberList(ctx.client), leader: st.leader || null, term: st.term, confIndex: ctx.node.members().confIndex };
}

function memberOf(ctx: ApiContext, id: number): unknown {
  return ctx.node.memberList(ctx.client).find((m) => m.id === id) ?? null;
}

const MEMBER_FIELDS = new Set(['id', 'peer', 'client', 'learner']);

export async function addMember(ctx: ApiContext, doc: unknown): Promise<Reply> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new QuorumError('invalid_body', 'the body must be {"id", "peer", "client"?, "learner"?}');
  const body = doc as Record<string, unknown>;
  onlyFields(body, MEMBER_FIELDS, 'the body');
  const id = memberId(body.id);
  const peer = addressField(body, 'peer', true)!;
  const client = addressField(body, 'client', false);
  if (body.learner !== undefined && typeof body.learner !== 'boolean') throw new QuorumError('invalid_body', '"learner" must be true or false');
  await ctx.node.changeMembership(body.learner === true ? 'add-learner' : 'add-voter', id, { peer, client });
  return { status: 201, body: { member: memberOf(ctx, id), ...membersBody(ctx) } };
}

export async function promoteMember(ctx: ApiContext, id: number): Promise<Reply> {
  await ctx.node.changeMembership('promote', id);
  return { body: { member: memberOf(ctx, id), ...membersBody(ctx) } };
}

export async function removeMember(ctx: ApiContext, id: number): Promise<Reply> {
  const rec = ctx.node.members();
  checkMemberChange(rec, 'remove', id);
  if (ctx.node.status().leader === id) {
    // Hand over first: a leader that removes itself steps down and leaves an election gap.
    const to = rec.voters.filter((v) => v !== id).sort((a, b) => a - b)[0];
    if (to !== undefined) await ctx.node.transferLeadership(ctx.node.isLeader ? (ctx.node.bestTransferee() ?? to) : to);
  }
  await ctx.node.changeMembership('remove', id);
  return { body: { removed: id, ...membersBody(ctx) } };
}
