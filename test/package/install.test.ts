/**
 * The real install path of the prebuilt packages: `npm run package` makes the two tarballs; in
 * an empty project, with a PATH holding node, npm and sh but no cargo, rustc, g++, cc, gcc or
 * clang, `npm install` takes them (runtime dependencies from the registry); then
 * `npx quorumkv dev` runs a 3-node cluster, the CLI puts and gets a key through it, and SIGINT
 * stops it cleanly. The shipped addon must need no glibc above 2.28 and no libstdc++ above
 * 3.4.25 (objdump -T). The install time is logged (the target, ≤ 30 s, is a note's figure, not an
 * assertion).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { freeDevBase } from '../helpers/ports';
import { pollUntil } from '../helpers/poll';
import { tempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const COMPILERS = ['cargo', 'rustc', 'g++', 'cc', 'gcc', 'clang'];

/** An environment whose PATH has only node, npm, npx and sh (and no npm_* settings of the test's own npm). */
function bareEnv(bin: string): NodeJS.ProcessEnv {
  mkdirSync(bin);
  const which = (tool: string) => realpathSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim());
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const tool of ['npm', 'npx']) symlinkSync(which(tool), join(bin, tool));
  symlinkSync(which('sh'), join(bin, 'sh'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') && k !== 'PATH' && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, PATH: bin };
}

test('the tarballs install with no compiler on PATH; npx quorumkv dev serves a cluster and stops on SIGINT', async (t) => {
  t.timeout(600_000);
  const pack = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--no-build'], { cwd: ROOT, encoding: 'utf8' });
  t.is(pack.status, 0, pack.stderr);
  t.log(pack.stdout.trim());
  const tarballs = readdirSync(join(ROOT, 'pkg')).filter((f) => f.endsWith('.tgz')).map((f) => join(ROOT, 'pkg', f));
  t.is(tarballs.length, 2);

  const dir = tempDir(t);
  const env = bareEnv(join(dir, 'bin'));
  for (const tool of COMPILERS) t.not(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} must not be on PATH`);
  const project = join(dir, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{"name":"app","private":true}\n');
  const started = performance.now();
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...tarballs], { cwd: project, env, encoding: 'utf8' });
  const installS = (performance.now() - started) / 1000;
  t.is(install.status, 0, install.stderr);
  t.true(existsSync(join(project, 'node_modules', 'quorumkv-linux-x64-gnu')));
  t.log(`npm install of the two tarballs: ${installS.toFixed(1)} s`);
  // The shipped addon loads on the distributions we promise: glibc ≤ 2.28, libstdc++ ≤ 3.4.25 or none.
  const versions = (await import(join(ROOT, 'scripts', 'symbol-versions.mjs'))) as { aboveFloor(file: string): string[]; requiredVersions(file: string): Record<string, string | null> };
  const shipped = join(project, 'node_modules', 'quorumkv-linux-x64-gnu', 'quorumkv.linux-x64-gnu.node');
  t.deepEqual(versions.aboveFloor(shipped), [], `required symbol versions: ${JSON.stringify(versions.requiredVersions(shipped))}`);
  t.log(`the shipped addon needs ${JSON.stringify(versions.requiredVersions(shipped))}`);

  const port = await freeDevBase(3);
  // The bin npx runs, started directly so that SIGINT reaches it (npx would not pass it on).
  // Its own process group, so a failed test kills the nodes `dev` started too, not only `dev`.
  const devProc: ChildProcess = spawn(join(project, 'node_modules', '.bin', 'quorumkv'), ['dev', '--data', join(dir, 'data'), '--port', String(port)], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-devProc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let output = '';
  devProc.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  devProc.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => devProc.on('exit', (code) => resolve(code)));
  await pollUntil(() => (output.match(/"event":"ready"/g) ?? []).length === 3, 'three nodes ready', 60_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}; output so far: ${output.slice(-1500)}`);
  });
  const cli = (...args: string[]) => spawnSync('npx', ['quorumkv', ...args, '--endpoint', `http://127.0.0.1:${port}`], { cwd: project, env, encoding: 'utf8' });
  await pollUntil(() => cli('put', 'greeting', '{"hello":"world"}').status === 0, 'a put through the cluster', 30_000, 100);
  const got = cli('get', 'greeting');
  t.is(got.status, 0, got.stderr);
  t.regex(got.stdout, /"hello":\s*"world"/);
  devProc.kill('SIGINT');
  const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running 30 s after SIGINT'), 30_000))]);
  t.is(code, 0);
  t.is((output.match(/exited \(0\)/g) ?? []).length, 3, output.slice(-500));
});
