// `node scripts/cargo.mjs test|clippy ... args`: cargo-zigbuild with the addon's target
// (scripts/zig.mjs), so tests and lints reuse the addon's compiled RocksDB.
import { spawnSync } from 'node:child_process';
import { TARGET, zigEnv } from './zig.mjs';

const [command, ...rest] = process.argv.slice(2);
// The target right after the subcommand: before any `--` (after it, options are the tool's).
const r = spawnSync('cargo-zigbuild', [command, '--target', TARGET, ...rest], { stdio: 'inherit', env: zigEnv() });
if (r.error) console.error(`cargo-zigbuild: ${r.error.message} (run scripts/setup-build.sh)`);
process.exit(r.status ?? 1);
