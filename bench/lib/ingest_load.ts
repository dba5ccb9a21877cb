/**
 * Ingest from a process of its own (the benchmark's own heap and GC stay out of the
 * measurement): `tsx ingest_load.ts URL SECONDS PRODUCERS TAG`. Each producer sends a generated
 * minute of 20 fresh instruments (`<TAG>P<p>-…`) in binary batches of 1,000, in order; a batch
 * that fails is sent again (a producer's records apply exactly once). The bodies are made
 * before the clock starts; node:http keep-alive (bench/lib/http_post.ts). Prints one JSON line: `{"eventsPerSecond","failed"}`.
 */
import { parseNdjson, toBinary } from '../../ts/market/batch';
import { generate } from '../../ts/market/generator';
import { HttpPoster } from './http_post';

const poster = new HttpPoster();

const [url, seconds, producers, tag] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];

function bodies(p: number): Buffer[] {
  const lines = [...generate({ instruments: 20, minutes: 1, seed: p + 1, eventsPerSecond: 2000, symbolPrefix: `${tag}P${p}-`, producer: `${tag}-${p}` })];
  const out: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 1000) out.push(toBinary(parseNdjson(Buffer.from(lines.slice(i, i + 1000).join('\n')), 0n)));
  return out;
}

async function main(): Promise<void> {
  const lists = Array.from({ length: producers }, (_, p) => bodies(p));
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let events = 0;
  let failed = 0;
  await Promise.all(lists.map(async (list) => {
    for (const body of list) {
      while (performance.now() < deadline) {
        try {
          const res = await poster.post(`${url}/v1/md/events`, body, 'application/octet-stream');
          if (res.status === 200) {
            events += (res.json as { applied?: number }).applied ?? 0;
            break;
          }
          if (res.status !== 503 && res.status !== 504) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.json)}`);
        } catch (err) {
          // A connection error (the node is busy or restarting): send again.
          if (!(err instanceof Error && 'code' in err)) throw err;
        }
        failed++;
      }
    }
  }));
  poster.close();
  console.log(JSON.stringify({ eventsPerSecond: events / ((performance.now() - started) / 1000), failed }));
}

void main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
