/** Reads a streaming HTTP answer line by line (NDJSON, or SSE `data:` lines; `id:` lines skipped), skipping progress lines. */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';

export interface StreamReader {
  res: IncomingMessage;
  /** The next parsed line that is not a progress line. */
  next: () => Promise<any>;
  /** The same line's text, unparsed (JSON.parse would round numbers past a double). */
  nextText: () => Promise<string>;
  close: () => void;
}

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<StreamReader> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url, { headers }, resolve).on('error', reject));
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: res }).on('line', (l) => {
    if (l.length === 0 || l.startsWith('id: ')) return;
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const line = () => new Promise<string>((resolve) => (lines.length > 0 ? resolve(lines.shift()!) : waiting.push(resolve))).then((l) => l.replace(/^data: /, ''));
  const nextText = async (): Promise<string> => {
    for (;;) {
      const l = await line();
      if ((JSON.parse(l) as { type?: string }).type !== 'progress') return l;
    }
  };
  return { res, next: async () => JSON.parse(await nextText()), nextText, close: () => res.destroy() };
}
