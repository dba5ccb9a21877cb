// `npm test`: the Rust crate tests, then the TypeScript tests. Both always run; the exit status
// is non-zero if either failed.
import { spawnSync } from 'node:child_process';

const run = (script) => spawnSync('npm', ['run', '--silent', script], { stdio: 'inherit' }).status ?? 1;
const rust = run('test:rust');
const ts = run('test:ts');
process.exit(rust !== 0 || ts !== 0 ? 1 : 0);
