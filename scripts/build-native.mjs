// Builds the napi-rs addon into native/ (loader, typings and .node are build outputs).
// CARGO_TARGET_DIR, when set, is honoured so CI and repeated builds reuse RocksDB's C++ build.
import { spawnSync } from 'node:child_process';

const args = ['napi', 'build', '--platform', '--release', '--package', 'quorumkv-native', '--output-dir', 'native', '--js', 'index.js', '--dts', 'index.d.ts'];
const result = spawnSync('npx', args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.error('\nbuilding the native addon failed. On Debian/Ubuntu run scripts/setup-debian.sh first (RocksDB needs libclang).');
  process.exit(result.status ?? 1);
}
