/**
 * `quorumkv put` sends its value as written and the answers are printed as the node wrote them:
 * a nanosecond timestamp survives the CLI both ways. `--if-revision` still guards the write.
 */
import test from 'ava';
import { runCli as cli } from '../helpers/cli';
import { singleNode } from '../helpers/single_node';

test('a value past a double goes and comes back exact; --if-revision guards the put', async (t) => {
  const { url } = await singleNode(t);
  const endpoint = ['--endpoint', url('')];
  const put = await cli(['put', 'tick', '{ "ts": 1700000000000000001 }', ...endpoint]);
  t.is(put.code, 0, put.stderr);
  const revision = (JSON.parse(put.stdout) as { revision: number }).revision;
  t.is((await (await fetch(url('/v1/kv/tick'))).text()), `{"key":"tick","value":{"ts":1700000000000000001},"revision":${revision}}`);
  const got = await cli(['get', 'tick', ...endpoint]);
  t.regex(got.stdout, /"ts": 1700000000000000001\n/);
  const stale = await cli(['put', 'tick', '2', '--if-revision', String(revision + 1), ...endpoint]);
  t.is(stale.code, 1);
  t.regex(stale.stdout, /revision_mismatch/);
  t.is((await cli(['put', 'tick', '2', '--if-revision', String(revision), ...endpoint])).code, 0);
  const txn = await cli(['txn', `{"compare":[{"key":"tick","value":2}],"success":[{"op":"put","key":"tick","value":12345678901234567890}]}`, ...endpoint]);
  t.regex(txn.stdout, /"succeeded": true/);
  t.regex((await cli(['get', 'tick', ...endpoint])).stdout, /"value": 12345678901234567890,/);
});
