/** Runs bench/lib/wake_floor.ts in a process of its own and returns what it measured. */
import { runJsonScript } from './procs';

export interface WakeQuantiles {
  p50: number;
  p99: number;
  max: number;
}

export type WakeFloor = Record<'pacer' | 'timer', WakeQuantiles>;

/** `ms` of wake-ups measured by a fresh Node process (ms late after the due time). */
export function wakeFloor(ms: number): Promise<WakeFloor> {
  return runJsonScript<WakeFloor>('wake_floor.ts', [String(ms)]);
}
