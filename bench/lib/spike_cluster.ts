/** The spike experiment's calls to the cluster: capacity, settling, the monitor poller, read-back. */
import { Agent, request } from 'node:http';
import { PipelinedClient } from './pipelined_client';
import { median } from './report';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const u = new URL(url);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: Number(u.port), method, path, agent, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: raw.startsWith('{') ? JSON.parse(raw) : raw });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

export async function setAll(urls: string[], path: string, body: unknown): Promise<void> {
  for (const url of urls) {
    const res = await call(url, 'POST', path, body);
    if (res.status !== 200) throw new Error(`POST ${path} on ${url}: ${res.status} ${JSON.stringify(res.json)}`);
  }
}

/** Closed-loop writes, 64 connections with one write each in flight, 5 s, three times: median writes/s. */
export async function measureCapacity(leader: string): Promise<number> {
  const u = new URL(leader);
  const client = await PipelinedClient.open(u.hostname, Number(u.port), 64);
  const rounds: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      let ok = 0;
      const until = performance.now() + 5000;
      await Promise.all(Array.from({ length: 64 }, (_, w) => new Promise<void>((resolve) => {
        let i = 0;
        const next = () => {
          if (performance.now() >= until) return resolve();
          client.put(`cap-${round}-${w}-${i++}`, '{"value":1}', (status) => {
            if (status === 200) ok++;
            next();
          });
        };
        next();
      })));
      rounds.push(ok / 5);
    }
  } finally {
    client.close();
  }
  return median(rounds);
}

interface MonitorDoc {
  signals: Record<string, { z: number; state: string }>;
  throttle: { classes: Record<string, { limit: number }> };
}

/** Waits (at most 30 s) until the leader has applied all it committed and no signal is anomalous. */
export async function settle(leader: string): Promise<void> {
  const until = performance.now() + 30_000;
  while (performance.now() < until) {
    const st = (await call(leader, 'GET', '/v1/cluster')).json as { commitIndex: number; appliedIndex: number };
    const mon = (await call(leader, 'GET', '/v1/monitor')).json as MonitorDoc;
    const calm = Object.values(mon.signals).every((s) => s.state !== 'anomaly');
    if (calm && st.appliedIndex >= st.commitIndex) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface MonitorSample {
  tMs: number;
  /** z of the write-latency signal. */
  z: number;
  writeLimit: number;
  anomaly: boolean;
}

/** Reads the leader's monitor every 100 ms (a control request: never throttled). */
export class MonitorPoller {
  readonly samples: MonitorSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();

  constructor(private readonly leader: string) {}

  start(): void {
    const tick = async () => {
      const t = performance.now() - this.started;
      const res = await call(this.leader, 'GET', '/v1/monitor').catch(() => undefined);
      if (res?.status === 200) {
        const m = res.json as MonitorDoc;
        this.samples.push({ tMs: t, z: m.signals.latency_write.z, writeLimit: m.throttle.classes.write.limit, anomaly: Object.values(m.signals).some((s) => s.state === 'anomaly') });
      }
      if (this.timer !== undefined) this.timer = setTimeout(() => void tick(), 100);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Reads every key back through linearizable multi-gets; returns how many are missing. */
export async function readBack(leader: string, keys: string[]): Promise<number> {
  let missing = 0;
  for (let at = 0; at < keys.length; at += 1000) {
    const batch = keys.slice(at, at + 1000);
    const res = await call(leader, 'POST', '/v1/kv/get', { keys: batch });
    if (res.status !== 200) throw new Error(`read-back: ${res.status} ${JSON.stringify(res.json)}`);
    missing += batch.length - (res.json as { items: unknown[] }).items.length;
  }
  return missing;
}
