/**
 * The chaos workload: concurrent clients issuing linearizable reads, writes of unique values
 * and compare-and-sets (`POST /v1/txn` comparing the value) on a few keys, each against a
 * random node, each with a timeout. Every operation is recorded with its invoke and complete
 * times and an outcome:
 * - ok: the store answered (a read's value, a compare-and-set's verdict);
 * - fail: known not to have happened — the connection was refused, the store answered 503
 *   (nothing was proposed) or the compare-and-set did not swap;
 * - info: unknown — a timeout, a dropped connection, a 504.
 */
import { Agent, request } from 'node:http';
import type { Random } from '../../ts/raft/random';

export type OpKind = 'read' | 'write' | 'cas';
export type Outcome = 'ok' | 'fail' | 'info';

export interface HistoryOp {
  client: number;
  node: number;
  key: string;
  kind: OpKind;
  /** write: the value; cas: the new value. */
  value?: number;
  /** cas: the expected value. */
  from?: number;
  outcome: Outcome;
  /** read (ok): the value seen, null when absent; cas (ok/fail): whether it swapped. */
  read?: number | null;
  swapped?: boolean;
  /** Milliseconds since the run started. */
  call: number;
  ret: number;
  /** Why it failed or is unknown: an HTTP status and error code, or a socket error. */
  error?: string;
}

export interface HttpResult {
  status: number;
  body: unknown;
}

/** One request; rejects with the socket error (its `code`) or 'timeout'. */
export function httpJson(agent: Agent, port: number, method: string, path: string, body: unknown, timeoutMs: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        } catch {
          reject(Object.assign(new Error(`bad JSON from node: ${text.slice(0, 200)}`), { code: 'BAD_RESPONSE' }));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** Node client ports, node id i at index i - 1. */
  ports: number[];
  random: Random;
  opTimeoutMs: number;
  /** Pause between one client's operations (pacing keeps histories checkable). */
  thinkMs: number;
  /** Time origin for call/ret. */
  now: () => number;
}

export const keyName = (i: number) => `chaos-${i}`;

export class Workload {
  readonly history: HistoryOp[] = [];
  /** Answers the workload did not expect at all (a 4xx, a 500): reported as failures. */
  readonly unexpected: HistoryOp[] = [];
  private running = true;
  private readonly agents: Agent[];
  private done: Promise<void> | undefined;

  constructor(private readonly opts: WorkloadOptions) {
    this.agents = opts.ports.map(() => new Agent({ keepAlive: true, maxSockets: opts.clients }));
  }

  start(): void {
    this.done = Promise.all(Array.from({ length: this.opts.clients }, (_, i) => this.client(i + 1))).then(() => undefined);
  }

  /** Stops issuing operations and waits for those in flight to complete or time out. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }

  private async client(client: number): Promise<void> {
    const { random } = this.opts;
    let counter = 0;
    // The last value this client saw per key: what its compare-and-sets expect.
    const seen = new Map<string, number>();
    while (this.running) {
      const key = keyName(random.intn(this.opts.keys));
      const node = 1 + random.intn(this.opts.ports.length);
      const roll = random.next();
      const value = client * 1_000_000 + ++counter;
      const last = seen.get(key);
      const kind: OpKind = roll < 0.45 ? 'read' : roll < 0.8 || last === undefined ? 'write' : 'cas';
      const op = await this.invoke(client, node, key, kind, value, last);
      if (op.outcome === 'ok') {
        if (kind === 'read' && typeof op.read === 'number') seen.set(key, op.read);
        if (kind === 'write' || (kind === 'cas' && op.swapped)) seen.set(key, value);
      }
      await new Promise((r) => setTimeout(r, this.opts.thinkMs * (0.5 + random.next())));
    }
  }

  /** Runs one operation and records it; also used for the final reads after healing. */
  async invoke(client: number, node: number, key: string, kind: OpKind, value: number, from?: number): Promise<HistoryOp> {
    const op: HistoryOp = { client, node, key, kind, outcome: 'info', call: this.opts.now(), ret: 0 };
    if (kind === 'write') op.value = value;
    if (kind === 'cas') Object.assign(op, { value, from });
    const agent = this.agents[node - 1];
    const port = this.opts.ports[node - 1];
    const path = `/v1/kv/${encodeURIComponent(key)}`;
    try {
      const res =
        kind === 'read'
          ? await httpJson(agent, port, 'GET', path, undefined, this.opts.opTimeoutMs)
          : kind === 'write'
            ? await httpJson(agent, port, 'PUT', path, { value }, this.opts.opTimeoutMs)
            : await httpJson(agent, port, 'POST', '/v1/txn', { compare: [{ key, value: from }], success: [{ op: 'put', key, value }] }, this.opts.opTimeoutMs);
      this.classify(op, res);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      // Refused: the request never reached a node. Anything else may have been processed.
      op.outcome = code === 'ECONNREFUSED' ? 'fail' : 'info';
      op.error = code;
    }
    op.ret = this.opts.now();
    this.history.push(op);
    return op;
  }

  private classify(op: HistoryOp, res: HttpResult): void {
    const body = res.body as { value?: unknown; succeeded?: unknown; error?: { code?: string } } | undefined;
    if (res.status === 200) {
      if (op.kind === 'read') {
        op.read = body?.value as number;
      } else if (op.kind === 'cas') {
        op.swapped = body?.succeeded === true;
      }
      op.outcome = op.kind === 'cas' && !op.swapped ? 'fail' : 'ok';
      return;
    }
    op.error = `${res.status} ${body?.error?.code ?? ''}`.trim();
    if (res.status === 404 && op.kind === 'read' && body?.error?.code === 'not_found') {
      op.read = null;
      op.outcome = 'ok';
      delete op.error;
    } else if (res.status === 503 || (res.status === 429 && body?.error?.code === 'throttled')) {
      // Both are refused before anything is proposed: known not applied.
      op.outcome = 'fail';
    } else if (res.status === 504) {
      op.outcome = 'info';
    } else {
      op.outcome = 'info';
      this.unexpected.push(op);
    }
  }
}
