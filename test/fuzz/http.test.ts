/**
 * The HTTP API under generated hostile input (QKV_FUZZ_REQUESTS, default 100,000; seeded by
 * QKV_FUZZ_SEED) against a live node over HTTP/1.1 and HTTP/2, plus malformed raw bytes on
 * fresh connections. Every answer: never a 500, a JSON error with a stable code for every
 * refusal; afterwards the node is healthy and holds only keys some 2xx write named — nothing a
 * refused request sent was applied.
 */
import { connect as h2connect } from 'node:http2';
import { Agent, request as h1request } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import test from 'ava';
import { keyFromPath } from '../../ts/api/args';
import { mulberry32 } from '../../ts/raft/random';
import { tempDir } from '../helpers/tmp';
import { type Proc, ProcCluster } from '../cluster/procs';
import { type FuzzRequest, fuzzRequest } from './http_cases';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 7);
const REQUESTS = Number(process.env.QKV_FUZZ_REQUESTS ?? 100_000);
const RAW_CASES = 2000;
const CONCURRENCY = 32;

interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

/** Non-ASCII in a request target must be percent-encoded on the wire (Node refuses it raw). */
const wirePath = (p: string) => p.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));

function viaH1(agent: Agent, port: number, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // (Node's client frames no body for OPTIONS by itself: the length is stated for every method.)
    const headers = r.body === undefined ? r.headers : { ...r.headers, 'content-length': String(r.body.length) };
    const req = h1request({ host: '127.0.0.1', port, method: r.method, path: wirePath(r.path), headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

function viaH2(session: ReturnType<typeof h2connect>, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': r.method, ':path': wirePath(r.path), ...r.headers }, { endStream: r.body === undefined });
    let status = 0;
    let type = '';
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      type = String(h['content-type'] ?? '');
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    // Ended with no response headers: the stream was reset (nghttp2 refused it, or the session went).
    stream.on('end', () => (status === 0 ? reject(new Error('stream reset without an answer')) : resolve({ status, type, body: Buffer.concat(chunks) })));
    stream.on('error', reject);
    if (r.body !== undefined) stream.end(r.body);
  });
}

/**
 * Keys `r` may have written: those a 2xx answer `a` reports, or — for a request that got no
 * answer (`a` undefined: its outcome is unknown) — every key it names.
 */
function written(r: FuzzRequest, a?: Answer): string[] {
  const path = r.path.split('?')[0];
  if (r.method === 'PUT' || r.method === 'DELETE') return path === '/v1/kv/get' ? ['get'] : path.startsWith('/v1/kv/') ? [keyFromPath(path.slice('/v1/kv/'.length))] : [];
  if (path !== '/v1/txn' && path !== '/v1/batch') return [];
  const doc = JSON.parse(r.body?.toString() ?? 'null') as Record<string, { key?: unknown }[]> | null;
  if (path === '/v1/txn') return [...(doc?.success ?? []), ...(doc?.failure ?? [])].map((o) => String(o.key));
  const results = a === undefined ? undefined : (JSON.parse(a.body.toString()) as { results: Record<string, unknown>[] }).results;
  return (doc?.ops ?? []).flatMap((o, i) => (!results || (results[i] && !('error' in results[i])) ? [String(o.key)] : []));
}

/** Checks one answer; returns what is wrong with it, if anything. */
function problem(r: FuzzRequest, a: Answer): string | undefined {
  const where = `${r.method} ${r.path.slice(0, 80)}`;
  if (a.status >= 500) return `${where} answered ${a.status}: ${a.body.toString().slice(0, 200)}`;
  if (r.method === 'HEAD' || r.path.startsWith('/dashboard')) return undefined;
  let doc: { error?: { code?: unknown } };
  try {
    doc = JSON.parse(a.body.toString()) as typeof doc;
  } catch {
    return `${where} answered ${a.status} with a body that is not JSON: ${a.body.toString().slice(0, 120)}`;
  }
  if (a.status >= 400 && typeof doc.error?.code !== 'string') return `${where} answered ${a.status} without an error code`;
  return undefined;
}

/** Raw bytes on a fresh connection: an answer (if any) is an HTTP 4xx with a JSON error. */
function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.setTimeout(2000, () => socket.destroy());
    socket.end(bytes);
  });
}

async function userKeys(p: Proc): Promise<string[]> {
  const keys: string[] = [];
  for (let after = ''; ; ) {
    const page = (await (await fetch(p.url(`/v1/kv?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`))).json()) as { items: { key: string }[]; more: boolean };
    keys.push(...page.items.map((i) => i.key));
    if (!page.more) return keys;
    after = keys[keys.length - 1];
  }
}

test('the API survives generated hostile requests over h1 and h2: no 500, coded errors, nothing applied by a refusal', async (t) => {
  // ~45 s here for 100,000 requests; a loaded CI machine may need twice that.
  t.timeout(240_000);
  const cluster = await ProcCluster.start(t, tempDir(t), 1);
  const node = await cluster.leader();
  const rng = mulberry32(SEED);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY / 2 });
  // nghttp2 resets streams it finds malformed and, past its limits, ends the whole session
  // (ENHANCE_YOUR_CALM): the protection a hostile client should meet. Those requests are
  // counted as refused by the protocol, and a new session is opened.
  let session = h2connect(node.url(''));
  session.on('error', () => undefined);
  const h2 = () => {
    if (session.destroyed || session.closed) {
      session = h2connect(node.url(''));
      session.on('error', () => undefined);
    }
    return session;
  };
  let protocolRefused = 0;
  t.teardown(() => {
    agent.destroy();
    session.close();
  });
  const touched = new Set<string>();
  const unanswered = new Set<string>();
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (useH2: boolean) => {
    while (next < REQUESTS && problems.length < 10) {
      const r = fuzzRequest(rng);
      next++;
      // Node's HTTP/1.1 parser knows its methods: an unknown one is refused below our routes
      // (a JSON 400, then the connection closes — the raw cases cover it); over h2 it is a header.
      if (!useH2 && r.method === 'FROB') r.method = 'PATCH';
      // A replay opened by POST streams until its data ends: not a request this test can wait on.
      if (r.method === 'POST' && r.path.split('?')[0] === '/v1/md/replay') continue;
      let a: Answer;
      try {
        a = await (useH2 ? viaH2(h2(), r) : viaH1(agent, node.port, r));
      } catch (err) {
        if (!useH2) throw err;
        protocolRefused++;
        // Reset with no answer: it may have been applied before the reset.
        try {
          for (const k of written(r)) unanswered.add(k);
        } catch {
          // A body that is not JSON names no keys (nor could it have written any).
        }
        continue;
      }
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      const wrong = problem(r, a);
      if (wrong) problems.push(wrong);
      else if (a.status < 300) {
        try {
          for (const k of written(r, a)) touched.add(k);
        } catch (err) {
          problems.push(`${r.method} ${r.path.slice(0, 80)} answered ${a.status} ${a.body.toString().slice(0, 100)} to ${r.body?.toString().slice(0, 100)}: ${(err as Error).message}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => worker(i % 2 === 0)));
  t.deepEqual(problems, []);
  let answeredRaw = 0;
  for (let i = 0; i < RAW_CASES; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + rng.intn(300) }, () => (rng.intn(4) === 0 ? 10 : rng.intn(256))));
    const bytes = rng.intn(2) === 0 ? junk : Buffer.concat([Buffer.from(`GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n`), junk, Buffer.from('\r\n\r\n')]);
    const answer = await raw(node.port, bytes);
    if (answer === '') continue;
    answeredRaw++;
    const bodyAt = answer.indexOf('\r\n\r\n');
    const status = Number(answer.slice(9, 12));
    if (!(answer.startsWith('HTTP/1.1 ') && status < 500 && (status < 400 || /"code":"[a-z_]+"/.test(answer.slice(bodyAt))))) problems.push(`raw bytes ${bytes.toString('hex').slice(0, 80)} got ${answer.slice(0, 120)}`);
  }
  t.deepEqual(problems, []);
  t.is((await fetch(node.url('/health'))).status, 200, 'the node is healthy after the run');
  const stray = (await userKeys(node)).filter((k) => !touched.has(k) && !unanswered.has(k));
  t.deepEqual(stray, [], 'every stored key was named by a write answered 2xx (or one never answered)');
  // Streams reset by the protocol layer: an h2 session torn down (ENHANCE_YOUR_CALM) takes every
  // stream in flight with it. Answers sent before their body was read used to do that (3.6% of
  // requests reset; 0 once the body is drained, ts/api/h2_exchange.ts).
  t.true(protocolRefused <= next * 0.005, `${protocolRefused} of ${next} h2 streams reset by the protocol layer`);
  t.log(`${next} requests (seed ${SEED}), ${protocolRefused} h2 streams reset by the protocol layer, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ${RAW_CASES} raw cases, ${answeredRaw} answered; ${touched.size} keys written; 0 crashes, 0 500s`);
});
