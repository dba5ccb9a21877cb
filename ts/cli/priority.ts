/**
 * `--nice`: a node's CPU priority. Replay learners serve bulk work (backtests at full speed); on
 * a host they share with voters, a lower priority lets the voters (ingest, the Raft round, reads)
 * take the cores first, and the replays use what is left.
 *
 * On Linux a nice value belongs to a thread, not to the process: every thread the process has is
 * set (from /proc/self/task), and threads made later (libuv's pool, the addon's RocksDB and WAL
 * threads) inherit it from the thread that makes them.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The default with `--role replay` (and 0 otherwise). */
export const REPLAY_NICE = 10;

/** Sets `nice` (0–19) on every thread of this process; returns how many were set. */
export function lowerPriority(nice: number): number {
  if (nice === 0) return 0;
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    tids = [0]; // no /proc: the calling thread (the process, where nice is per process)
  }
  let set = 0;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      set++;
    } catch (err) {
      // A thread that ended between the listing and here: nothing to set.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return set;
}
