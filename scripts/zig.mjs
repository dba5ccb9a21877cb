// The one build profile of the addon and the crate tests: Rust's x86_64 Linux target linked by zig
// against glibc 2.28 (cargo-zigbuild; scripts/setup-build.sh installs both). Every cargo command
// that compiles — the addon (napi build -x), `cargo test`, `cargo clippy` — goes through here with
// the same target and environment, so RocksDB's C++ is compiled once for all of them.
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export const TARGET = 'x86_64-unknown-linux-gnu.2.28';
const ZIG = join(homedir(), '.cache', 'quorumkv', 'tools', 'zigenv');

/** The environment for cargo-zigbuild: its venv first on PATH (zig is found as PyPI's ziglang). */
export function zigEnv(env = process.env) {
  return { ...env, PATH: `${join(ZIG, 'bin')}${delimiter}${env.PATH ?? ''}`, CARGO_ZIGBUILD_PYTHON_PATH: join(ZIG, 'bin', 'python3') };
}
