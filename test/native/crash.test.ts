import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import test, { type ExecutionContext } from 'ava';

import { Wal } from '../../ts/native';
import { seededRandom } from '../helpers/random';
import { tempDir } from '../helpers/tmp';
import { expectedPayload } from './crash-payload';

const ROUNDS = 24;

interface Round {
  maxAcked: number;
  /** Our SIGKILL reached a child that was still appending (it had not exited by itself). */
  killedWhileRunning: boolean;
}

/**
 * When a round's SIGKILL is sent: `delayMs` after the child's first acknowledgement, or once it
 * has acknowledged `acks` batches. The second measures progress in appends, not time, so a
 * loaded machine (a slow child) still writes as much per round.
 */
type KillAt = { delayMs: number } | { acks: number };

/**
 * Runs the child until it has acknowledged something, then SIGKILLs it at `killAt`.
 * The kill is observed, not assumed: it counts only if we sent it while the child was alive and
 * still acknowledging, and the child died of it.
 */
function crashRound(dir: string, killAt: KillAt, segmentBytesMax?: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const args = [join(__dirname, 'crash-child.ts'), dir, ...(segmentBytesMax === undefined ? [] : [String(segmentBytesMax)])];
    const child = spawn(process.execPath, ['--import=tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let maxAcked = 0;
    let acksAtKill = -1;
    let acks = 0;
    let killTimer: NodeJS.Timeout | undefined;
    let stderr = '';
    const kill = (): void => {
      if (acksAtKill > 0 || child.exitCode !== null || child.signalCode !== null) return;
      acksAtKill = acks;
      child.kill('SIGKILL');
    };
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, value] = line.split(' ');
      if (kind === 'ack') {
        acks++;
        maxAcked = Math.max(maxAcked, Number(value));
        // The kill moment is random within the append stream, not a synchronization point: the
        // child keeps appending (16 batches in flight) while the signal is on its way.
        if ('acks' in killAt) {
          if (acks >= killAt.acks) kill();
        } else killTimer ??= setTimeout(kill, killAt.delayMs);
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': acks still in the pipe at the kill are then counted (and checked).
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve({ maxAcked, killedWhileRunning: acksAtKill > 0 });
    });
  });
}

/**
 * Kills the appending child `rounds` times; after each kill the log reopens (recovery cuts the
 * zeros written ahead of it and any torn group) and holds every acknowledged entry intact.
 */
async function crashLoop(t: ExecutionContext, rounds: number, segmentBytesMax?: number): Promise<number> {
  // Small segments: kill after 60..239 acknowledged batches, so every round crosses several
  // 16 KiB segments however slow the machine is (108 in 12 rounds when measured). Otherwise
  // 0..39 ms after the first acknowledgement.
  const seed = Number(process.env.QKV_CRASH_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed} (QKV_CRASH_SEED=${seed} replays the kill delays)`);
  const random = seededRandom(seed);
  const dir = tempDir(t, 'qkv-crash-');
  let kills = 0;
  let lastAckedEver = 0;
  for (let round = 0; round < rounds; round++) {
    const killAt = segmentBytesMax === undefined ? { delayMs: Math.floor(random() * 40) } : { acks: 60 + Math.floor(random() * 180) };
    const { maxAcked, killedWhileRunning } = await crashRound(dir, killAt, segmentBytesMax);
    if (killedWhileRunning) kills++;
    lastAckedEver = Math.max(lastAckedEver, maxAcked);

    const wal = Wal.open(dir, segmentBytesMax === undefined ? {} : { segmentBytesMax });
    try {
      const last = wal.lastIndex();
      t.true(last >= lastAckedEver, `round ${round}: log ends at ${last} but ${lastAckedEver} was acknowledged`);
      for (let lo = 1; lo <= last; ) {
        const batch = await wal.entries(lo, last + 1, 1 << 20);
        for (const e of batch) {
          if (!e.data.equals(expectedPayload(e.index))) t.fail(`round ${round}: entry ${e.index} is damaged`);
        }
        lo += batch.length;
      }
    } finally {
      wal.close();
    }
  }
  t.is(kills, rounds, `${kills} of ${rounds} rounds killed the child while it appended`);
  t.true(lastAckedEver > 0);
  return readdirSync(dir).filter((name) => name.endsWith('.wal')).length;
}

test('every acknowledged entry survives SIGKILL at random moments', async (t) => {
  await crashLoop(t, ROUNDS);
});

// Segments of 16 KiB roll every few dozen batches, so kills land around rolls too: a sealed
// segment must end with its last record (a scan of one refuses zeros or a torn tail).
test('every acknowledged entry survives SIGKILL while small segments roll', async (t) => {
  const segments = await crashLoop(t, ROUNDS / 2, 16 << 10);
  t.log(`${segments} segments`);
  t.true(segments > ROUNDS, `only ${segments} segments: the rolls this test is about did not happen`);
});
