/**
 * Depth-10 book reads from a process of their own (so the load generator's event loop does not
 * inflate their latency): `tsx book_readers.ts URL MS READERS INSTRUMENTS [CONSISTENCY] [READS_PER_S]`
 * (linearizable by default, or stale). Without READS_PER_S each of READERS reads back to back (a
 * closed loop: the readers' own demand then competes with the nodes for the cores, and the
 * latency measured is partly theirs). With it, an open loop at that rate (see `openLoop`).
 * node:http over a keep-alive agent. Prints one JSON line: `{"latenciesMs":[...],"sendLateMs":[...]}`
 * — `sendLateMs` (open loop only): how late this process itself was to send each read (its own
 * timer's and the host's wake-up delay), which the latency from the due time includes.
 */
import { Agent, get } from 'node:http';

const [url, ms, readers, instruments] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const consistency = process.argv[6] ?? 'linearizable';
const readsPerSecond = Number(process.argv[7] ?? 0);
const agent = new Agent({ keepAlive: true, maxSockets: readsPerSecond > 0 ? 256 : readers });

/** One read; resolves with its status once the whole answer arrived. */
function read(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const latenciesMs: number[] = [];
const sendLateMs: number[] = [];
const started = performance.now();
const deadline = started + ms;

/** Closed loop: each reader reads back to back. */
function closedLoop(): Promise<unknown> {
  return Promise.all(
    Array.from({ length: readers }, async (_, r) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const sent = performance.now();
        const status = await read(`/v1/md/books/S${1 + ((i + r) % instruments)}?depth=10&consistency=${consistency}`);
        if (status === 200) latenciesMs.push(performance.now() - sent);
      }
    }),
  );
}

/**
 * Open loop: read k is sent when due (`k / READS_PER_S` s), whether or not earlier ones were
 * answered (reads are independent), and its latency counts from then. At most
 * `OUTSTANDING_MAX` in flight: a read due past that waits, and its wait counts.
 */
async function openLoop(): Promise<unknown> {
  const OUTSTANDING_MAX = 256;
  const inFlight = new Set<Promise<void>>();
  for (let k = 0; ; k++) {
    const due = started + (k / readsPerSecond) * 1000;
    if (due >= deadline) break;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
    while (inFlight.size >= OUTSTANDING_MAX) await Promise.race(inFlight);
    sendLateMs.push(Math.max(0, performance.now() - due));
    const one: Promise<void> = read(`/v1/md/books/S${1 + (k % instruments)}?depth=10&consistency=${consistency}`).then((status) => {
      if (status === 200) latenciesMs.push(performance.now() - due);
      inFlight.delete(one);
    });
    inFlight.add(one);
  }
  return Promise.all(inFlight);
}

void (readsPerSecond > 0 ? openLoop() : closedLoop()).then(() => {
  agent.destroy();
  console.log(JSON.stringify({ latenciesMs, sendLateMs }));
});
