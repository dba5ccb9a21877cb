#!/usr/bin/env node
/**
 * The `quorumkv` command. The storage addon and the Raft core exist; the server commands
 * (`start`, `dev`) and the client commands arrive with the node issue. Until then this prints
 * usage and says so plainly instead of pretending to run a cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths';

const USAGE = `quorumkv — a Raft-replicated, linearizable key-value store

usage:
  quorumkv dev [--nodes 3] [--data ./data] [--port 7001]   run a local cluster        (coming with the node issue)
  quorumkv start --id ID --data DIR --listen H:P --peer-listen H:P --cluster ID=H:P,...
                                                           run one node               (coming with the node issue)
  quorumkv get|put|del|scan|txn|status --endpoint URL      talk to a cluster          (coming with the node issue)
  quorumkv version                                         print the version
  quorumkv help                                            this text

What works today: the storage addon (io_uring group-commit WAL + RocksDB state machine, see
ts/native.ts) and the Raft core with its simulator (npm run sim).`;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function main(argv: string[]): number {
  const [command] = argv;
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
    case 'dev':
    case 'start':
    case 'get':
    case 'put':
    case 'del':
    case 'scan':
    case 'txn':
    case 'status':
      console.log(USAGE);
      console.log(`\n'${command}' is not available yet: the replicated node lands with the next issue.`);
      return 0;
    default:
      console.error(`unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
