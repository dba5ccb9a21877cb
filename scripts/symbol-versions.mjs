// The newest glibc and libstdc++ symbol versions a shared object needs (from `objdump -T`): what
// decides the oldest Linux distribution it loads on. Used by `npm run package` (which refuses an
// addon that needs more than the floor) and by the package test.
import { spawnSync } from 'node:child_process';

/** The distributions we promise (Ubuntu 20.04, RHEL 8, Debian 11) have glibc ≥ 2.28 and libstdc++ ≥ 3.4.25. */
export const FLOOR = { GLIBC: '2.28', GLIBCXX: '3.4.25' };

const compare = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/** {GLIBC, GLIBCXX}: the newest version of each the file requires (null: none of that library). */
export function requiredVersions(file) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`objdump -T ${file} failed: ${r.stderr}`);
  const newest = { GLIBC: null, GLIBCXX: null };
  for (const m of r.stdout.matchAll(/\b(GLIBC|GLIBCXX)_(\d+(?:\.\d+)+)\b/g)) {
    if (newest[m[1]] === null || compare(m[2], newest[m[1]]) > 0) newest[m[1]] = m[2];
  }
  return newest;
}

/** The requirements above the floor, as messages (none: it loads where we promise). */
export function aboveFloor(file) {
  const need = requiredVersions(file);
  return Object.entries(need).filter(([lib, v]) => v !== null && compare(v, FLOOR[lib]) > 0).map(([lib, v]) => `${lib}_${v} (the floor is ${lib}_${FLOOR[lib]})`);
}
