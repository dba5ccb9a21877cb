/**
 * Crash-test child: appends to the WAL in `argv[2]` forever, several batches in flight, and
 * prints `ack <index>` for every batch the WAL reports durable. The parent SIGKILLs it.
 * `argv[3]`, when given: the segment size in bytes (small ones roll often).
 */
import { Wal } from '../../ts/native';
import { expectedPayload } from './crash-payload';

const dir = process.argv[2];
const inflightMax = 16;
const wal = Wal.open(dir, process.argv[3] === undefined ? {} : { segmentBytesMax: Number(process.argv[3]) });
let next = wal.lastIndex() + 1;
let inflight = 0;
process.stdout.write(`ready ${next - 1}\n`);

function pump(): void {
  while (inflight < inflightMax) {
    const count = 1 + (next % 8);
    const batch = Array.from({ length: count }, (_, i) => ({ index: next + i, term: 1, data: expectedPayload(next + i) }));
    next += count;
    inflight++;
    const last = batch[batch.length - 1].index;
    wal.append(batch).then(
      () => {
        inflight--;
        process.stdout.write(`ack ${last}\n`);
        pump();
      },
      (err: Error) => {
        process.stderr.write(`append failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  }
}
pump();
