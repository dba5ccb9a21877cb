/** A minimal server-sent-event reader for the dashboard tests (events as they arrive). */
export interface SseEvent {
  event: string;
  data: string;
}

export class SseReader {
  private buffered = '';
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string): Promise<{ status: number; type: string | null; sse: SseReader }> {
    const abort = new AbortController();
    const res = await fetch(url, { signal: abort.signal });
    return { status: res.status, type: res.headers.get('content-type'), sse: new SseReader(res.body!.getReader(), abort) };
  }

  /** The next event; throws if the stream ends first. */
  async next(): Promise<SseEvent> {
    for (;;) {
      const end = this.buffered.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        return { event, data };
      }
      const { done, value } = await this.reader.read();
      if (done) throw new Error('the event stream ended');
      this.buffered += this.decoder.decode(value, { stream: true });
    }
  }

  /** The next event named `name` (others are skipped). */
  async nextOf(name: string): Promise<SseEvent> {
    for (;;) {
      const e = await this.next();
      if (e.event === name) return e;
    }
  }

  close(): void {
    this.abort.abort();
  }
}
