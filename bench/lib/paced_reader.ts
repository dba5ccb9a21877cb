/**
 * One paced replay read from a process of its own, so the benchmark's own heap (it generated
 * and ingested a day of events: its first full GC after dropping them paused it for tens of
 * milliseconds, counted as lateness) is not part of the measurement:
 * `tsx paced_reader.ts URL BODY_JSON FROM_NS SPEED`. Each event line's arrival less its venue
 * offset / speed, in ms; prints one JSON line `{"offsetsMs":[...],"wallMs":n,"id"}` (wall time from the
 * response's headers, the session's start, to its end). A chunk is stamped when it arrives and
 * parsed after the last one: parsing a burst's first chunks would delay the next chunks' stamps
 * by the reader's own work, counted as the server's lateness.
 */
import { request } from 'node:http';

const [url, body, fromText, speedText] = process.argv.slice(2);
const from = BigInt(fromText);
const speed = Number(speedText);
const fromNs = { hi: Number(from / 1_000_000_000n), lo: Number(from % 1_000_000_000n) };
const TS_KEY = Buffer.from('"tsEvent":"');

/**
 * The tsEvent of the line starting at `start` (ending at `end`) less `from`, in ns (exact while
 * that difference is below 2^53); undefined: no tsEvent. Read digit by digit as two numbers (the
 * last 9 digits apart): no string and no BigInt per line, whose allocation made the reader's own
 * pauses part of the measured lateness.
 */
function lineOffsetNs(buf: Buffer, start: number, end: number): number | undefined {
  const at = buf.indexOf(TS_KEY, start);
  if (at === -1 || at > end) return undefined;
  const first = at + TS_KEY.length;
  const quote = buf.indexOf(34, first);
  const split = Math.max(first, quote - 9);
  let hi = 0;
  let lo = 0;
  for (let i = first; i < split; i++) hi = hi * 10 + (buf[i] - 48);
  for (let i = split; i < quote; i++) lo = lo * 10 + (buf[i] - 48);
  return (hi - fromNs.hi) * 1e9 + (lo - fromNs.lo);
}

const offsetsMs: number[] = [];
let headersMs = 0;
/** Each chunk with its arrival time: parsed after the end, so parsing one chunk never delays the next one's stamp. */
const chunks: { atMs: number; chunk: Buffer }[] = [];

function parseAll(): void {
  let rest = Buffer.alloc(0);
  for (const { atMs, chunk } of chunks) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let end = buf.indexOf(10); end !== -1; start = end + 1, end = buf.indexOf(10, start)) {
      const offsetNs = lineOffsetNs(buf, start, end);
      if (offsetNs !== undefined) offsetsMs.push(atMs - offsetNs / 1e6 / speed);
    }
    rest = Buffer.from(buf.subarray(start));
  }
}

const req = request(`${url}/v1/md/replay`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } }, (res) => {
  if (res.statusCode !== 200) {
    console.error(`replay answered ${res.statusCode}`);
    process.exit(1);
  }
  headersMs = performance.now();
  res.on('data', (chunk: Buffer) => chunks.push({ atMs: performance.now(), chunk }));
  res.on('end', () => {
    const wallMs = performance.now() - headersMs;
    parseAll();
    process.stdout.write(`${JSON.stringify({ offsetsMs, wallMs, id: res.headers['x-replay-id'] })}\n`);
  });
});
req.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
req.end(body);
