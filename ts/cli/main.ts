#!/usr/bin/env -S node --initial-old-space-size=128
/** The `quorumkv` command: run nodes (`start`, `dev`) and talk to a cluster (commands.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths';
import { buildProgram } from './commands';
import { expandConfig } from './config_file';

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

if (require.main === module) {
  const program = buildProgram(version());
  let argv: string[] = process.argv;
  try {
    argv = expandConfig(program, process.argv);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  }
  program.parseAsync(argv).catch((err: Error) => {
    // Exit now: a `start` that failed part-way (a client port in use, say) may hold timers and
    // sockets that would keep a half-started node alive.
    console.error(`quorumkv: ${err.message}`);
    process.exit(2);
  });
}
