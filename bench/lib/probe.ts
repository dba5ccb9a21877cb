/**
 * A probe beside a bench's work: one client writing one key at a time to `leader` (closed loop)
 * for as long as the work runs. Its latencies show what the work costs other clients.
 */
export async function probed<T>(leader: string, work: () => Promise<T>): Promise<{ result: T; seconds: number; probeMs: number[] }> {
  const probeMs: number[] = [];
  let done = false;
  const probe = (async () => {
    for (let i = 0; !done; i++) {
      const t0 = performance.now();
      const res = await fetch(`${leader}/v1/kv/probe`, { method: 'PUT', body: `{"value":${i}}` });
      const text = await res.text();
      if (!res.ok) throw new Error(`the probe's write answered ${res.status}: ${text}`);
      probeMs.push(performance.now() - t0);
    }
  })();
  const t0 = performance.now();
  const result = await work();
  const seconds = (performance.now() - t0) / 1000;
  done = true;
  await probe;
  return { result, seconds, probeMs };
}
