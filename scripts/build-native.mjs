// Builds the napi-rs addon into native/ (loader, typings and .node are build outputs), linked
// against glibc 2.28 by zig (scripts/zig.mjs), after installing what the build lacks
// (scripts/setup-build.sh: libclang, zig). CARGO_TARGET_DIR, when set, is honoured so CI and
// repeated builds reuse RocksDB's C++ build.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TARGET, zigEnv } from './zig.mjs';

const setup = spawnSync('bash', [join(import.meta.dirname, 'setup-build.sh')], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);
const args = ['napi', 'build', '--platform', '--release', '--package', 'quorumkv-native', '--output-dir', 'native', '--js', 'index.js', '--dts', 'index.d.ts', '--target', TARGET, '--cross-compile'];
const result = spawnSync('npx', args, { stdio: 'inherit', env: zigEnv() });
if (result.status !== 0) {
  console.error('\nbuilding the native addon failed (scripts/setup-build.sh installs what it needs on Debian/Ubuntu).');
  process.exit(result.status ?? 1);
}
