#!/usr/bin/env node
/** The `quorumkv` command: run nodes (`start`, `dev`) and talk to a cluster (commands.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths';
import { buildProgram } from './commands';

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

if (require.main === module) {
  buildProgram(version())
    .parseAsync(process.argv)
    .catch((err: Error) => {
      console.error(`quorumkv: ${err.message}`);
      process.exitCode = 2;
    });
}
