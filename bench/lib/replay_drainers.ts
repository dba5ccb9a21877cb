/**
 * Max-speed replay readers from a process of their own: `tsx replay_drainers.ts URLS_JSON
 * BODY_JSON SESSIONS NICE`. Session i reads `BODY` from `URLS[i % URLS.length]` to its end, over
 * and over, until stdin closes; each reader keeps only the tail of a response (its done line).
 * Prints `started` once every session has its headers, then (after stdin closes and the
 * sessions in flight end) one JSON line `{"events"}`. With NICE > 0 the readers run at that
 * priority, as the replay learners do: on this shared machine that stands for backtests on
 * machines of their own, whose CPU is not the cluster's.
 */
import { request } from 'node:http';
import { lowerPriority } from '../../ts/cli/priority';

const [urls, body, sessions, nice] = [JSON.parse(process.argv[2]) as string[], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];

/** One replay read to its end: the events its done line counts. */
function drain(url: string, onHeaders: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`replay answered ${res.statusCode}`));
      onHeaders();
      let tail = Buffer.alloc(0);
      res.on('data', (c: Buffer) => (tail = Buffer.concat([tail, c.subarray(Math.max(0, c.length - 256))]).subarray(-256)));
      res.on('end', () => {
        const text = tail.toString('latin1');
        resolve((JSON.parse(text.slice(text.lastIndexOf('{"kind":"done"')).trim()) as { events: number }).events);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  lowerPriority(nice);
  let stop = false;
  process.stdin.on('close', () => (stop = true)).resume();
  let open = 0;
  const loops = Array.from({ length: sessions }, async (_, i) => {
    let events = 0;
    let first = true;
    while (!stop) {
      events += await drain(urls[i % urls.length], () => {
        if (first && ++open === sessions) process.stdout.write('started\n');
        first = false;
      });
    }
    return events;
  });
  const events = (await Promise.all(loops)).reduce((a, b) => a + b, 0);
  process.stdout.write(`${JSON.stringify({ events })}\n`);
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
