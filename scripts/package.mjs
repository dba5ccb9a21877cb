// `npm run package`: the two npm tarballs of a release, in pkg/ (ignored by git):
//   quorumkv-<version>.tgz                    compiled JavaScript, type declarations, the dashboard
//                                             page; no sources, no install script; lists the
//                                             platform package in optionalDependencies
//   quorumkv-linux-x64-gnu-<version>.tgz      the stripped release addon (os/cpu/libc fields)
// Builds first (the addon with the release profile the tests use, then the TypeScript).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aboveFloor, FLOOR, requiredVersions } from './symbol-versions.mjs';

const root = join(import.meta.dirname, '..');
const out = join(root, 'pkg');
const stage = join(out, 'stage');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const platform = `quorumkv-${process.platform}-${process.arch}-gnu`;
const nodeFile = `quorumkv.${process.platform}-${process.arch}-gnu.node`;

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return r.stdout;
}

if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('npm run package builds the linux-x64 (glibc) packages only');
if (!process.argv.includes('--no-build')) run('npm', ['run', '--silent', 'build:native']);
rmSync(out, { recursive: true, force: true });
const main = join(stage, 'quorumkv');
const plat = join(stage, platform);
mkdirSync(plat, { recursive: true });

// The main package: JavaScript and declarations compiled straight into the stage.
run('npx', ['tsc', '-p', 'tsconfig.json', '--declaration', '--sourceMap', 'false', '--outDir', join(main, 'dist')]);
run('npx', ['tsc', '-p', 'tsconfig.dashboard.json', '--outDir', join(main, 'dist', 'dashboard')]);
mkdirSync(join(main, 'native'), { recursive: true });
copyFileSync(join(root, 'native', 'index.d.ts'), join(main, 'native', 'index.d.ts'));
cpSync(join(root, 'README.md'), join(main, 'README.md'));
const types = (js) => js.replace(/\.js$/, '.d.ts');
writeFileSync(join(main, 'package.json'), `${JSON.stringify({
  name: manifest.name,
  version: manifest.version,
  description: manifest.description,
  license: manifest.license,
  main: manifest.main,
  types: types(manifest.main),
  exports: Object.fromEntries(Object.entries(manifest.exports).map(([k, v]) => [k, v.endsWith('.js') ? { types: types(v), default: v } : v])),
  bin: manifest.bin,
  engines: manifest.engines,
  files: ['dist', 'native/index.d.ts', 'README.md'],
  dependencies: manifest.dependencies,
  optionalDependencies: { [platform]: manifest.version },
}, null, 2)}\n`);

// The platform package: the stripped addon, which must load on the distributions we promise.
copyFileSync(join(root, 'native', nodeFile), join(plat, nodeFile));
run('strip', ['--strip-unneeded', join(plat, nodeFile)]);
const tooNew = aboveFloor(join(plat, nodeFile));
if (tooNew.length > 0) throw new Error(`${nodeFile} needs ${tooNew.join(', ')}: build it with npm run build:native (zig, glibc ${FLOOR.GLIBC})`);
console.log(`${nodeFile} needs ${Object.entries(requiredVersions(join(plat, nodeFile))).map(([lib, v]) => `${lib} ${v ?? '(none)'}`).join(', ')}`);
writeFileSync(join(plat, 'package.json'), `${JSON.stringify({
  name: platform,
  version: manifest.version,
  description: `The quorumkv native addon for ${process.platform}-${process.arch} (glibc)`,
  license: manifest.license,
  os: [process.platform],
  cpu: [process.arch],
  libc: ['glibc'],
  main: nodeFile,
  files: [nodeFile],
}, null, 2)}\n`);

const sizes = {};
for (const dir of [main, plat]) {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', out], dir).trim().split('\n').pop();
  sizes[tarball] = statSync(join(out, tarball)).size;
}
rmSync(stage, { recursive: true, force: true });
for (const [name, bytes] of Object.entries(sizes)) console.log(`${join(out, name)}  ${(bytes / 1024 / 1024).toFixed(2)} MiB`);
