/**
 * CPU time the processes of a system under test spent on a load: user + system time from
 * /proc/<pid>/stat (every thread of the process, io_uring and libuv workers included), turned
 * into CPU-µs per operation — the cost that decides how many operations a machine can serve once
 * its cores are busy, which ops/s on a shared 2-core machine hides.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Row } from './load';

const TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** User + system CPU time of `pid` so far, in µs (0 once it is gone). */
export function cpuMicros(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_S;
}

/**
 * Runs one load and adds `cpu µs/op`: the CPU the `pids` spent during it over the operations it
 * counted (ops/s × its measuring time `seconds`; for keys/s rows, per key).
 */
export async function withCpu(pids: readonly number[], seconds: number, load: () => Row | Promise<Row>): Promise<Row> {
  const before = pids.reduce((n, pid) => n + cpuMicros(pid), 0);
  const row = await load();
  const spent = pids.reduce((n, pid) => n + cpuMicros(pid), 0) - before;
  const ops = row['ops/s'] * seconds;
  row['cpu µs/op'] = ops > 0 ? Math.round((spent / ops) * 10) / 10 : 0;
  return row;
}
