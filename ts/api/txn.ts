/**
 * `POST /v1/txn {"compare":[...],"success":[ops],"failure":[ops]}`: every compare is evaluated
 * at apply time, then one branch runs, atomically (one log entry). A branch writes a key at most
 * once (`duplicate_key`): the entry's index is the revision of every key it writes. An `incr` op
 * (`{"op":"incr","key","by"?}`) adds to a counter; a branch with one that cannot be added
 * (`not_a_counter`, `counter_overflow`) is refused whole, nothing applied.
 *
 * Limits: `TXN_COMPARES_MAX` compares, `TXN_OPS_MAX` ops per branch.
 */
import { QuorumError } from '../errors';
import { type Compare, type CompareOp, COMPARE_OPS, Op, type TxnOp } from '../node/commands';
import { numericOrder } from '../node/txn_compare';
import type { RaftNode } from '../node/raft_node';
import { checkKey, jsonValue, onlyFields, parseObject, revisionArg } from './args';
import { rawValues } from './raw_values';
import { refusedError, replayHeaders, writeMeta } from './exactly_once';
import type { Target } from './http';
import { ttlArg, unexpected } from './kv';
import { incrStep } from './counters';
import type { Reply } from './reply';

export const TXN_COMPARES_MAX = 128;
export const TXN_OPS_MAX = 128;

const TXN_FIELDS = new Set(['compare', 'success', 'failure']);
const OP_FIELDS = new Set(['op', 'key', 'value', 'ttlMs', 'by']);
const COMPARE_FIELDS = new Set(['key', 'revision', 'value', 'exists', 'cmp']);

/** `values`: the body's value texts (`rawValues`). */
function txnOps(raw: unknown, where: 'success' | 'failure', values: Map<string, string>): TxnOp[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new QuorumError('invalid_body', `"${where}" must be an array of ops`);
  if (raw.length > TXN_OPS_MAX) throw new QuorumError('too_many_ops', `at most ${TXN_OPS_MAX} ops per branch`);
  const ops = raw.map((o: unknown, i) => txnOp(o, `${where}[${i}]`, values.get(`${where}.${i}.value`)));
  // A key written twice in one entry would have one revision for two values (etcd refuses it too).
  const written = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.kind === 'get') return;
    const first = written.get(op.key);
    if (first !== undefined) throw new QuorumError('duplicate_key', `${where}[${i}] writes ${JSON.stringify(op.key)} again (${where}[${first}] does): a branch writes a key at most once`);
    written.set(op.key, i);
  });
  return ops;
}

/** `rawValue`: the op's value text as the body gave it. */
function txnOp(o: unknown, where: string, rawValue: string | undefined): TxnOp {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new QuorumError('invalid_body', `${where} must be an object {"op", "key", "value"?}`);
  onlyFields(o, OP_FIELDS, where);
  const op = o as { op?: unknown; key?: unknown; value?: unknown; ttlMs?: unknown; by?: unknown };
  const key = checkKey(op.key, where);
  if (op.by !== undefined && op.op !== 'incr') throw new QuorumError('invalid_body', `${where}: only an incr takes "by"`);
  if (op.op === 'put') {
    if (!('value' in op)) throw new QuorumError('missing_value', `${where}: a put needs a "value"`);
    const put: TxnOp = { kind: 'put', key, value: jsonValue(op.value, rawValue) };
    if (op.ttlMs !== undefined) put.ttlMs = ttlArg(op.ttlMs, `${where}.ttlMs`);
    return put;
  }
  if (op.ttlMs !== undefined) throw new QuorumError('invalid_ttl', `${where}: only a put takes ttlMs`);
  if (op.op === 'delete') return { kind: 'delete', key };
  if (op.op === 'get') return { kind: 'get', key };
  if (op.op === 'incr') {
    if ('value' in op) throw new QuorumError('invalid_body', `${where}: an incr takes "by", not "value"`);
    return { kind: 'incr', key, by: incrStep(op.by, `${where}.by`) };
  }
  throw new QuorumError('invalid_op', `${where}: "op" must be "put", "delete", "get" or "incr"`);
}

function compares(raw: unknown, values: Map<string, string>): Compare[] {
  if (!Array.isArray(raw)) throw new QuorumError('invalid_body', '"compare" must be an array');
  if (raw.length > TXN_COMPARES_MAX) throw new QuorumError('too_many_compares', `at most ${TXN_COMPARES_MAX} compares`);
  return raw.map((c: unknown, i) => {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new QuorumError('invalid_body', `compare[${i}] must be an object {"key", ...}`);
    onlyFields(c, COMPARE_FIELDS, `compare[${i}]`);
    const cc = c as { key?: unknown; revision?: unknown; value?: unknown; exists?: unknown; cmp?: unknown };
    const out: Compare = { key: checkKey(cc.key, `compare[${i}]`) };
    if (cc.revision !== undefined) out.revision = revisionArg(cc.revision, `compare[${i}].revision`);
    if ('value' in cc) out.value = jsonValue(cc.value, values.get(`compare.${i}.value`));
    if (cc.exists !== undefined) {
      if (typeof cc.exists !== 'boolean') throw new QuorumError('invalid_body', `compare[${i}].exists must be a boolean`);
      out.exists = cc.exists;
    }
    if (cc.cmp !== undefined) out.cmp = compareOp(cc.cmp, out, `compare[${i}]`);
    return out;
  });
}

/** A compare's `cmp`: it relates exactly one of revision and value; an ordered value compare takes a number. */
function compareOp(raw: unknown, c: Compare, where: string): CompareOp {
  if (typeof raw !== 'string' || !(COMPARE_OPS as readonly string[]).includes(raw)) throw new QuorumError('invalid_body', `${where}.cmp is one of ${COMPARE_OPS.join(' ')}`);
  const cmp = raw as CompareOp;
  if ((c.revision === undefined) === (c.value === undefined)) throw new QuorumError('invalid_body', `${where}.cmp relates one field: give "revision" or "value", not both or neither`);
  const ordered = cmp !== '=' && cmp !== '!=';
  if (ordered && c.value !== undefined && numericOrder(c.value.toString('latin1'), '0') === undefined) {
    throw new QuorumError('invalid_body', `${where}: "${cmp}" compares numbers; the value must be a JSON number`);
  }
  return cmp;
}

export async function txn(node: RaftNode, body: Buffer, target: Target): Promise<Reply> {
  const text = body.toString('utf8');
  const doc = parseObject(text, '{"compare", "success", "failure"}');
  onlyFields(doc, TXN_FIELDS, 'the body');
  const values = rawValues(text);
  const compare = compares(doc.compare ?? [], values);
  const success = txnOps(doc.success, 'success', values);
  const failure = txnOps(doc.failure, 'failure', values);
  // Every key either branch may touch: a txn must not reveal (by its outcome) what it may not read.
  for (const c of compare) target.guard.check('kv', c.key, 'read');
  for (const op of [...success, ...failure]) target.guard.check('kv', op.key, op.kind === 'get' ? 'read' : 'readwrite');
  const meta = writeMeta(target);
  // A put's TTL counts from the entry's clock: a txn with one carries it.
  const ttl = [...success, ...failure].some((op) => op.kind === 'put' && op.ttlMs !== undefined);
  const result = await node.propose({ op: Op.Txn, key: '', txn: { compare, success, failure }, ...meta, atMs: meta.atMs ?? (ttl ? Date.now() : undefined) });
  if (result.kind === 'refused') throw refusedError(result);
  if (result.kind !== 'txn') throw unexpected(result.kind);
  // A get's value goes out as stored (parsed and written back, numbers past a double would round).
  const results = result.results.map((r) => {
    if (r.op !== 'get') return JSON.stringify(r);
    return r.found ? `{"op":"get","key":${JSON.stringify(r.key)},"value":${r.value!.toString('utf8')},"revision":${r.revision}}` : JSON.stringify({ op: 'get', key: r.key, found: false });
  });
  return { headers: replayHeaders(result), raw: `{"succeeded":${result.succeeded},"revision":${result.revision},"results":[${results.join(',')}]}` };
}
