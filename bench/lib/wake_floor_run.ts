/** Runs bench/lib/wake_floor.ts in a process of its own and returns what it measured. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface WakeQuantiles {
  p50: number;
  p99: number;
  max: number;
}

export type WakeFloor = Record<'pacer' | 'timer', WakeQuantiles>;

/** `ms` of wake-ups measured by a fresh Node process (ms late after the due time). */
export function wakeFloor(ms: number): Promise<WakeFloor> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', join(__dirname, 'wake_floor.ts'), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as WakeFloor) : reject(new Error(`wake_floor exited with ${code}`))));
  });
}
