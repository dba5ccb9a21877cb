/** A generated market-data day pushed into a cluster: binary batches, one request at a time. */
import { parseNdjson, toBinary } from '../../ts/market/batch';

/** Posts the NDJSON event `lines` to `leader` as binary batches of `batch` events; returns the events applied. */
export async function ingestLines(leader: string, lines: string[], batch: number): Promise<number> {
  let applied = 0;
  for (let i = 0; i < lines.length; i += batch) {
    const body = toBinary(parseNdjson(Buffer.from(lines.slice(i, i + batch).join('\n')), 0n));
    const res = await fetch(`${leader}/v1/md/events`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    const answer = (await res.json()) as { applied?: number };
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(answer)}`);
    applied += answer.applied ?? 0;
  }
  return applied;
}
