/**
 * `quorumkv md generate` (seeded synthetic market data as NDJSON) and `quorumkv md ingest FILE`
 * (pushes an NDJSON file in batches, retrying a batch until acknowledged — safe, since a
 * producer's records are applied exactly once — with a progress line on stderr).
 */
import { callAny, unreachable } from './http_client';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseNdjson, toFrame } from '../market/batch';
import { generate, type GeneratorOptions } from '../market/generator';

/** NDJSON lines, or (binary) frames of `batch` events each: `len u32 | binary batch`. */
function* output(opts: GeneratorOptions & { format: 'ndjson' | 'binary'; batch: number }): Generator<string | Buffer> {
  if (opts.format === 'ndjson') {
    for (const line of generate(opts)) yield `${line}\n`;
    return;
  }
  let lines: string[] = [];
  for (const line of generate(opts)) {
    lines.push(line);
    if (lines.length < opts.batch) continue;
    yield toFrame(parseNdjson(Buffer.from(lines.join('\n')), 0n));
    lines = [];
  }
  if (lines.length > 0) yield toFrame(parseNdjson(Buffer.from(lines.join('\n')), 0n));
}

export async function generateCommand(opts: GeneratorOptions & { out?: string; format: 'ndjson' | 'binary'; batch: number }): Promise<void> {
  const out: NodeJS.WritableStream = opts.out ? createWriteStream(opts.out) : process.stdout;
  let closed = false;
  // A reader that stops early (e.g. `| head`) closes the pipe: stop generating, quietly.
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    closed = true;
  });
  for (const chunk of output(opts)) {
    if (closed) return;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  if (opts.out) await new Promise<void>((resolve) => out.end(() => resolve()));
}

export interface IngestOptions {
  file: string;
  format: 'ndjson' | 'binary';
  endpoints: readonly string[];
  batch: number;
  /** Give up on a batch after this long without an acknowledgement. */
  retryMs: number;
}

/** A batch a node refused (not retryable); `line`: the 1-based line of the body it names, if any. */
class BatchRefused extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
  }
}

/** Sends one batch until a node acknowledges it; the answer's counts. */
async function sendBatch(opts: IngestOptions, body: string | Buffer): Promise<{ applied: number; duplicates: number }> {
  const deadline = Date.now() + opts.retryMs;
  const type = typeof body === 'string' ? 'application/x-ndjson' : 'application/octet-stream';
  for (let attempt = 0; ; attempt++) {
    try {
      // Safe to repeat on any member: a producer's events already applied count as duplicates.
      const res = await callAny(opts.endpoints, '/v1/md/events', { method: 'POST', headers: { 'content-type': type }, body }, true);
      const answer = (await res.json()) as { applied: number; duplicates: number; error?: { code: string; message: string; line?: number } };
      if (res.ok) return answer;
      if (res.status !== 503 && res.status !== 504) throw new BatchRefused(`${res.status} ${answer.error?.code}: ${answer.error?.message}`, answer.error?.line);
    } catch (err) {
      if (!unreachable(err)) throw err; // the connection failed: retry
    }
    if (Date.now() > deadline) throw new Error(`no acknowledgement within ${opts.retryMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
  }
}

export async function ingestCommand(opts: IngestOptions): Promise<void> {
  const total = statSync(opts.file).size;
  const started = Date.now();
  let bytes = 0;
  let applied = 0;
  let duplicates = 0;
  let lines: string[] = [];
  const progress = () => {
    const seconds = (Date.now() - started) / 1000;
    const rate = (applied + duplicates) / Math.max(seconds, 0.001);
    const eta = bytes > 0 ? ((total - bytes) * seconds) / bytes : 0;
    process.stderr.write(`\r${Math.round((100 * bytes) / total)}%  ${(applied + duplicates).toLocaleString('en-US')} records  ${Math.round(rate).toLocaleString('en-US')} records/s  ${(bytes / 2 ** 20).toFixed(1)} MiB  ETA ${Math.round(eta)} s  `);
  };
  const timer = setInterval(progress, 500);
  // The file's line number of each line of the batch being sent (blank lines are skipped).
  let lineNos: number[] = [];
  let frames = 0;
  try {
    if (opts.format === 'binary') {
      for await (const frame of readFrames(opts.file)) {
        bytes += 4 + frame.length;
        frames++;
        ({ applied, duplicates } = add(await sendBatch(opts, frame), applied, duplicates));
      }
    } else {
      let lineNo = 0;
      for await (const line of createInterface({ input: createReadStream(opts.file) })) {
        lineNo++;
        bytes += Buffer.byteLength(line) + 1;
        if (line.trim().length === 0) continue;
        lines.push(line);
        lineNos.push(lineNo);
        if (lines.length < opts.batch) continue;
        ({ applied, duplicates } = add(await sendBatch(opts, lines.join('\n')), applied, duplicates));
        lines = [];
        lineNos = [];
      }
      if (lines.length > 0) ({ applied, duplicates } = add(await sendBatch(opts, lines.join('\n')), applied, duplicates));
    }
  } catch (err) {
    if (!(err instanceof BatchRefused)) throw err;
    const where = opts.format === 'binary' ? `frame ${frames}` : err.line !== undefined && lineNos[err.line - 1] !== undefined ? `line ${lineNos[err.line - 1]}` : `the batch from line ${lineNos[0]}`;
    throw new Error(`${opts.file}, ${where}: refused (${err.message}); nothing of that batch was applied, ${applied} events before it were. Fix it and run again: events already applied count as duplicates.`);
  } finally {
    clearInterval(timer);
  }
  progress();
  process.stderr.write('\n');
  console.log(JSON.stringify({ applied, duplicates, seconds: (Date.now() - started) / 1000 }));
}

/** The frames of a binary file (`len u32 | batch`), each sent as one request as it is. */
async function* readFrames(file: string): AsyncGenerator<Buffer> {
  let buf = Buffer.alloc(0);
  for await (const chunk of createReadStream(file)) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
      const len = buf.readUInt32LE(0);
      yield buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
    }
  }
  if (buf.length > 0) throw new Error(`${file} ends inside a frame (${buf.length} bytes left)`);
}

function add(r: { applied: number; duplicates: number }, applied: number, duplicates: number): { applied: number; duplicates: number } {
  return { applied: applied + r.applied, duplicates: duplicates + r.duplicates };
}
