/**
 * A lean HTTP/1.1 client for load generation: a fixed pool of keep-alive connections, requests
 * pipelined on them (answers come back in order per connection), writes coalesced per turn,
 * answers parsed from the status line and content-length only. node:http costs tens of µs per
 * request; on a 2-core machine shared with three nodes, that client — not the store — set the
 * "capacity" (2.3–2.7K writes/s measured through it).
 */
import { connect, type Socket } from 'node:net';

type Done = (status: number) => void;

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

class Connection {
  readonly pending: Done[] = [];
  private head = 0;
  private out: string[] = [];
  private flushing = false;
  private buf: Buffer = Buffer.alloc(0);

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  get outstanding(): number {
    return this.pending.length - this.head;
  }

  send(text: string, done: Done): void {
    this.pending.push(done);
    this.out.push(text);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const text = this.out.join('');
        this.out = [];
        this.socket.write(text);
      });
    }
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let at = 0;
    for (;;) {
      const end = this.buf.indexOf(HEADER_END, at);
      if (end < 0) break;
      const headers = this.buf.toString('latin1', at, end);
      const m = CONTENT_LENGTH.exec(headers);
      const bodyBytes = m ? Number(m[1]) : 0;
      if (end + 4 + bodyBytes > this.buf.length) break;
      const status = Number(headers.slice(9, 12));
      at = end + 4 + bodyBytes;
      const done = this.pending[this.head++];
      if (this.head > 4096) {
        this.pending.splice(0, this.head);
        this.head = 0;
      }
      done(status);
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }
}

export class PipelinedClient {
  private readonly conns: Connection[] = [];

  private constructor(private readonly host: string) {}

  static async open(host: string, port: number, connections: number): Promise<PipelinedClient> {
    const client = new PipelinedClient(host);
    for (let i = 0; i < connections; i++) {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, host, () => resolve(s));
        s.once('error', reject);
      });
      socket.on('error', () => undefined);
      client.conns.push(new Connection(socket));
    }
    return client;
  }

  /** PUT `value` (JSON text) at `key` on the least-loaded connection; `done` gets the status. */
  put(key: string, value: string, done: Done): void {
    let best = this.conns[0];
    for (const c of this.conns) if (c.outstanding < best.outstanding) best = c;
    best.send(`PUT /v1/kv/${key} HTTP/1.1\r\nhost: ${this.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(value)}\r\n\r\n${value}`, done);
  }

  close(): void {
    for (const c of this.conns) c.socket.destroy();
  }
}
