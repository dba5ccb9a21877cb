/** A JSON call to one node, and a write load the cluster tests run through membership and leader changes. */
import type { Proc } from './procs';

export interface Reply {
  status: number;
  /** Whatever shape the route answers. */
  json: any;
}

export async function call(p: Proc, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(p.url(path), { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/**
 * `writers` callers putting unique keys through `targets()` (round robin) until stopped; 503 and
 * 504 are retried with the next key. `acked`: every key whose PUT answered 200.
 */
export function writeLoad(targets: () => Proc[], writers: number): { acked: string[]; stop: () => Promise<void> } {
  const acked: string[] = [];
  let running = true;
  let n = 0;
  const done = Promise.all(Array.from({ length: writers }, async () => {
    while (running) {
      const live = targets();
      const key = `load-${n++}`;
      try {
        const r = await call(live[n % live.length], 'PUT', `/v1/kv/${key}`, { value: n });
        if (r.status === 200) acked.push(key);
        else if (r.status !== 503 && r.status !== 504) throw new Error(`PUT ${key}: ${r.status} ${JSON.stringify(r.json)}`);
      } catch (err) {
        // A node that is going away drops its connections: that write's outcome is unknown.
        if (!(err instanceof TypeError)) throw err;
      }
    }
  }));
  return {
    acked,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
