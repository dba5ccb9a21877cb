/**
 * This host's wake-up floor, from a Node process of its own: `tsx wake_floor.ts MS`. For `MS`,
 * waits of 0.2–2 ms one after another, each on the addon's pacer (`pacerSleep`: a Rust thread's
 * precise sleep, then a wake-up of the JS thread — what a paced replay's last stretch waits on)
 * and, alternating, on a bare `setTimeout` (whole milliseconds); how late each continuation ran
 * after its due time. No other work runs in this process, so what it measures is the kernel's
 * and the hypervisor's scheduling of an idle thread — a floor under any schedule error or
 * open-loop latency measured on this machine. Prints one JSON line:
 * `{"pacer":{"p50","p99","max"},"timer":{...}}` (ms).
 */
import { pacerSleep } from '../../ts/native_market';
import type { WakeFloor, WakeQuantiles } from './wake_floor_run';

const durationMs = Number(process.argv[2] ?? 3000);

function quantiles(xs: number[]): WakeQuantiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

async function main(): Promise<void> {
  const pacer: number[] = [];
  const timer: number[] = [];
  // A fixed sequence of waits (the same every run): 0.2–2 ms.
  let state = 1;
  const end = performance.now() + durationMs;
  for (let i = 0; performance.now() < end; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const waitMs = 0.2 + (state % 1800) / 1000;
    const due = performance.now() + (i % 2 === 0 ? waitMs : Math.ceil(waitMs));
    if (i % 2 === 0) await pacerSleep(waitMs * 1e6);
    else await new Promise((resolve) => setTimeout(resolve, Math.ceil(waitMs)));
    (i % 2 === 0 ? pacer : timer).push(Math.max(0, performance.now() - due));
  }
  const floor: WakeFloor = { pacer: quantiles(pacer), timer: quantiles(timer) };
  console.log(JSON.stringify(floor));
}

void main();
