import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import test from 'ava';

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
 * Runs the child until it has acknowledged something, then SIGKILLs it after a random delay.
 * The kill is observed, not assumed: it counts only if we sent it while the child was alive and
 * still acknowledging, and the child died of it.
 */
function crashRound(dir: string, killDelayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', join(__dirname, 'crash-child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let maxAcked = 0;
    let acksAtKill = -1;
    let acks = 0;
    let killTimer: NodeJS.Timeout | undefined;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, value] = line.split(' ');
      if (kind === 'ack') {
        acks++;
        maxAcked = Math.max(maxAcked, Number(value));
        // The kill moment is random within the append stream, not a synchronization point.
        killTimer ??= setTimeout(() => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          acksAtKill = acks;
          child.kill('SIGKILL');
        }, killDelayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve({ maxAcked, killedWhileRunning: acksAtKill > 0 });
    });
  });
}

test('every acknowledged entry survives SIGKILL at random moments', async (t) => {
  const seed = Number(process.env.QKV_CRASH_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed} (QKV_CRASH_SEED=${seed} replays the kill delays)`);
  const random = seededRandom(seed);
  const dir = tempDir(t, 'qkv-crash-');
  let kills = 0;
  let lastAckedEver = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { maxAcked, killedWhileRunning } = await crashRound(dir, Math.floor(random() * 40));
    if (killedWhileRunning) kills++;
    lastAckedEver = Math.max(lastAckedEver, maxAcked);

    const wal = Wal.open(dir);
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
  t.is(kills, ROUNDS, `${kills} of ${ROUNDS} rounds killed the child while it appended`);
  t.true(lastAckedEver > 0);
});
