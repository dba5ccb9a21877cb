/** Client commands: one HTTP request to `--endpoint`, the JSON answer printed as is. */
import { parseArgs } from 'node:util';

export async function client(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: 'string', default: 'http://127.0.0.1:7001' },
      stale: { type: 'boolean', default: false },
      'if-revision': { type: 'string' },
      prefix: { type: 'string' },
      after: { type: 'string' },
      limit: { type: 'string' },
      peer: { type: 'string' },
      client: { type: 'string' },
      learner: { type: 'boolean', default: false },
    },
  });
  const base = values.endpoint!.replace(/\/$/, '');
  const key = () => {
    if (!positionals[0]) throw new Error(`${command} needs a KEY`);
    return encodeURIComponent(positionals[0]);
  };
  let url: string;
  let init: RequestInit = {};
  switch (command) {
    case 'get':
      url = `${base}/v1/kv/${key()}${values.stale ? '?consistency=stale' : ''}`;
      break;
    case 'put': {
      if (positionals[1] === undefined) throw new Error('put needs KEY and a JSON value');
      let value: unknown;
      try {
        value = JSON.parse(positionals[1]);
      } catch {
        throw new Error(`the value must be JSON (for a string, quote it: '"text"')`);
      }
      const body: Record<string, unknown> = { value };
      if (values['if-revision'] !== undefined) body.ifRevision = Number(values['if-revision']);
      url = `${base}/v1/kv/${key()}`;
      init = { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
      break;
    }
    case 'del':
      url = `${base}/v1/kv/${key()}${values['if-revision'] !== undefined ? `?ifRevision=${values['if-revision']}` : ''}`;
      init = { method: 'DELETE' };
      break;
    case 'txn': {
      if (positionals[0] === undefined) throw new Error('txn needs a JSON body: {"compare":[...],"success":[...],"failure":[...]}');
      url = `${base}/v1/txn`;
      init = { method: 'POST', body: positionals[0], headers: { 'content-type': 'application/json' } };
      break;
    }
    case 'scan': {
      const q = new URLSearchParams();
      if (values.prefix) q.set('prefix', values.prefix);
      if (values.after) q.set('after', values.after);
      if (values.limit) q.set('limit', values.limit);
      url = `${base}/v1/kv?${q}`;
      break;
    }
    case 'leader': {
      if (positionals[0] !== 'transfer' || !positionals[1]) throw new Error('usage: quorumkv leader transfer ID');
      url = `${base}/v1/cluster/leader`;
      init = { method: 'POST', body: JSON.stringify({ id: positionals[1] }), headers: { 'content-type': 'application/json' } };
      break;
    }
    case 'member': {
      const [action, id] = positionals;
      const json = { 'content-type': 'application/json' };
      if (action === 'list') {
        url = `${base}/v1/cluster/members${values.stale ? '?consistency=stale' : ''}`;
      } else if (action === 'add' && id) {
        if (!values.peer) throw new Error('member add needs --peer HOST:PORT (the new node\'s --peer-listen)');
        url = `${base}/v1/cluster/members`;
        init = { method: 'POST', headers: json, body: JSON.stringify({ id, peer: values.peer, client: values.client, learner: values.learner }) };
      } else if (action === 'promote' && id) {
        url = `${base}/v1/cluster/members/${encodeURIComponent(id)}/promote`;
        init = { method: 'POST' };
      } else if (action === 'remove' && id) {
        url = `${base}/v1/cluster/members/${encodeURIComponent(id)}`;
        init = { method: 'DELETE' };
      } else {
        throw new Error('usage: quorumkv member list | add ID --peer H:P [--client H:P] [--learner] | promote ID | remove ID');
      }
      break;
    }
    default:
      url = `${base}/v1/cluster`;
  }
  const res = await fetch(url, init);
  console.log(JSON.stringify(await res.json(), null, 2));
  return res.ok ? 0 : 1;
}
