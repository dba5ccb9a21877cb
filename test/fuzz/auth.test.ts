/**
 * Authorization headers under generated hostile input against a node with auth on: missing,
 * empty, other schemes, long, non-ASCII, near-misses of a real token (one character changed,
 * truncated, extended). Every answer is 401 `unauthenticated` as JSON (never a 500, never a
 * pass), and the real token still works afterwards.
 */
import { request } from 'node:http';
import test from 'ava';
import { bootstrapAdmin } from '../../ts/api/auth';
import { newToken } from '../../ts/auth/model';
import { mulberry32, type Random } from '../../ts/raft/random';
import { singleNode } from '../helpers/single_node';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 7);
const CASES = 3000;

function get(port: number, authorization: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/kv/some-key', headers: authorization === undefined ? {} : { authorization } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One hostile header value, derived from the real token or not. */
function hostile(rand: Random, token: string): string | undefined {
  const pick = (n: number) => rand.intn(n);
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x21 + pick(94))).join('');
  const mutated = () => {
    const at = pick(token.length);
    const c = String.fromCharCode(0x21 + pick(94));
    return token.slice(0, at) + (c === token[at] ? '~' : c) + token.slice(at + 1);
  };
  switch (pick(9)) {
    case 0: return undefined;
    case 1: return '';
    case 2: return `Basic ${Buffer.from('admin:admin').toString('base64')}`;
    case 3: return `Bearer ${mutated()}`;
    case 4: return `Bearer ${token.slice(0, pick(token.length))}`;
    case 5: return `Bearer ${token}${printable(1 + pick(4))}`;
    case 6: return `Bearer ${printable(pick(8000))}`;
    case 7: return `bearer\t${mutated()}`;
    default: return `Bearer ${encodeURIComponent('ünï')}${printable(pick(40))}`;
  }
}

test('hostile Authorization headers get 401 unauthenticated as JSON; the real token still works', async (t) => {
  const n = await singleNode(t, {}, true, true);
  const token = newToken();
  t.is((await get(n.port, `Bearer ${token}`)).status, 503, 'before the initial token applies: unavailable');
  t.is(await bootstrapAdmin(n.node, token), 'applied');
  const rand = mulberry32(SEED);
  const statuses: Record<number, number> = {};
  for (let i = 0; i < CASES; i++) {
    const header = hostile(rand, token);
    const r = await get(n.port, header);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status !== 401 || JSON.parse(r.body).error?.code !== 'unauthenticated') t.fail(`${JSON.stringify(header)?.slice(0, 80)} → ${r.status} ${r.body.slice(0, 200)}`);
  }
  t.log(`${CASES} hostile headers (seed ${SEED}): statuses ${JSON.stringify(statuses)}`);
  t.is((await get(n.port, `Bearer ${token}`)).status, 404, 'the real token passes (the key does not exist)');
});
