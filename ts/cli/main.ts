#!/usr/bin/env node
/** The `quorumkv` command: run nodes (`start`, `dev`) and talk to a cluster. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../paths';
import { client } from './client';
import { dev } from './dev';
import { parseAddress, parseCluster, parseNodeId, start } from './start';

const USAGE = `quorumkv — a Raft-replicated, linearizable key-value store

usage:
  quorumkv dev [--nodes 3] [--data ./data] [--port 7001]
      a local cluster: client ports 7001.., peer ports 7101.., Ctrl-C stops all
  quorumkv start --id n1 --data DIR --listen 127.0.0.1:7001 --peer-listen 127.0.0.1:7101
                 (--cluster n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103
                  | --join http://HOST:PORT [--learner])
                 [--snapshot-entries 10000] [--snapshot-bytes 67108864] [--snapshot-catchup 1000]
      one node; --cluster names the voters a new cluster starts with (--peer-listen must match
      this node's entry); --join adds a new, empty node to a running cluster through any
      member's client endpoint: it joins as a learner, receives the data by snapshot and log,
      and becomes a voter once caught up (unless --learner); with --join, a --cluster map only
      says where members are reached. A snapshot is taken (and the log compacted, keeping
      --snapshot-catchup entries) every --snapshot-entries entries or --snapshot-bytes bytes of
      entries, whichever comes first
  quorumkv get KEY [--stale]             read a key (linearizable unless --stale)
  quorumkv put KEY JSON [--if-revision N] write a value (JSON text)
  quorumkv del KEY [--if-revision N]     delete a key
  quorumkv scan [--prefix P] [--after K] [--limit N]
  quorumkv txn '{"compare":[...],"success":[...],"failure":[...]}'
  quorumkv status                        the node's view of the cluster
  quorumkv leader transfer ID            hand leadership to member ID (e.g. n2)
  quorumkv member list [--stale]         the members, their roles and addresses
  quorumkv member add ID --peer H:P [--client H:P] [--learner]
                                         add a voter (or a learner); start it with --join
  quorumkv member promote ID             make a learner a voter
  quorumkv member remove ID              remove a member (a removed node stops itself)
      client commands take --endpoint URL (default http://127.0.0.1:7001) and print JSON
  quorumkv version | help`;

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    case 'version':
    case '--version':
      console.log(version());
      return 0;
    case 'start': {
      const { values } = parseArgs({
        args: rest,
        options: {
          id: { type: 'string' },
          data: { type: 'string' },
          listen: { type: 'string' },
          'peer-listen': { type: 'string' },
          cluster: { type: 'string' },
          join: { type: 'string' },
          learner: { type: 'boolean', default: false },
          'snapshot-entries': { type: 'string', default: '10000' },
          'snapshot-bytes': { type: 'string', default: String(64 << 20) },
          'snapshot-catchup': { type: 'string', default: '1000' },
          help: { type: 'boolean' },
        },
      });
      if (values.help) {
        console.log(USAGE);
        return 0;
      }
      for (const required of ['id', 'data', 'listen', 'peer-listen'] as const) {
        if (!values[required]) throw new Error(`start needs --${required} (see quorumkv help)`);
      }
      if (!values.cluster && !values.join) throw new Error('start needs --cluster (a new cluster) or --join URL (a new node of a running one)');
      if (values.learner && !values.join) throw new Error('--learner goes with --join');
      const id = parseNodeId(values.id!);
      const peer = parseAddress(values['peer-listen']!);
      const members = values.cluster ? parseCluster(values.cluster) : new Map([[id, peer]]);
      const self = members.get(id);
      if (!self || self.host !== peer.host || self.port !== peer.port) throw new Error(`--peer-listen ${values['peer-listen']} must match n${id}'s entry in --cluster`);
      const count = (name: 'snapshot-entries' | 'snapshot-catchup' | 'snapshot-bytes', min: number) => {
        const n = Number(values[name]);
        if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
        return n;
      };
      await start({
        id,
        dataDir: values.data!,
        listen: parseAddress(values.listen!),
        members,
        peerListen: peer,
        join: values.join,
        learner: values.learner,
        snapshotEntries: count('snapshot-entries', 1),
        snapshotLogBytes: count('snapshot-bytes', 1),
        snapshotCatchUpEntries: count('snapshot-catchup', 0),
      });
      return -1; // keeps running until a signal
    }
    case 'dev': {
      const { values } = parseArgs({ args: rest, options: { nodes: { type: 'string', default: '3' }, data: { type: 'string', default: './data' }, port: { type: 'string', default: '7001' } } });
      const nodes = Number(values.nodes);
      const port = Number(values.port);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error('--nodes must be 1..9');
      if (!Number.isInteger(port) || port < 1 || port > 65000) throw new Error('--port must be a port number');
      await dev({ nodes, dataDir: values.data!, port });
      return 0;
    }
    case 'get':
    case 'put':
    case 'del':
    case 'scan':
    case 'txn':
    case 'status':
    case 'leader':
    case 'member':
      return client(command, rest);
    default:
      console.error(`unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (err: Error) => {
      console.error(`quorumkv: ${err.message}`);
      process.exitCode = 2;
    },
  );
}
