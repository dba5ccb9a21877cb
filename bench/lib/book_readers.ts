/**
 * Depth-10 book reads from a process of their own (so the load generator's event loop does not
 * inflate their latency): `tsx book_readers.ts URL MS READERS INSTRUMENTS [CONSISTENCY]`
 * (linearizable by default, or stale). Prints one JSON line: `{"latenciesMs":[...]}`.
 */
const [url, ms, readers, instruments] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const consistency = process.argv[6] ?? 'linearizable';
const latenciesMs: number[] = [];
const deadline = Date.now() + ms;
void Promise.all(
  Array.from({ length: readers }, async (_, r) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const started = performance.now();
      const res = await fetch(`${url}/v1/md/books/S${1 + ((i + r) % instruments)}?depth=10&consistency=${consistency}`);
      await res.arrayBuffer();
      if (res.status === 200) latenciesMs.push(performance.now() - started);
    }
  }),
).then(() => console.log(JSON.stringify({ latenciesMs })));
