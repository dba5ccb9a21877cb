/**
 * A TCP proxy for one directed peer link (node `from` dialing node `to`). The chaos suite gives
 * every node a `--cluster` map whose peer addresses are these proxies, so it can cut any link.
 * A node sends on the connection it dialed and receives on the ones it accepted, so cutting
 * both directed links of a pair partitions the pair; cutting one direction is an asymmetric
 * fault.
 *
 * While cut, established connections are reset and new ones are accepted then reset at once,
 * so nothing crosses in either direction; the dialing node keeps reconnecting with backoff.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class LinkProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Every socket this proxy ever opened or accepted and not yet closed. */
  private readonly sockets = new Set<Socket>();
  private cut = false;

  constructor(
    readonly from: number,
    readonly to: number,
    readonly listenPort: number,
    readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
  }

  get isCut(): boolean {
    return this.cut;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const pair of this.pairs) this.drop(pair);
  }

  async close(): Promise<void> {
    this.setCut(true);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.targetPort, '127.0.0.1');
    this.track(upstream);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of pair) {
      s.on('error', () => this.drop(pair));
      s.on('close', () => this.drop(pair));
    }
  }

  private drop(pair: [Socket, Socket]): void {
    if (!this.pairs.delete(pair)) return;
    for (const s of pair) if (!s.destroyed) abort(s);
  }
}

/**
 * Closes a socket with a reset, so the node on the other side notices at once — except when
 * its write side was already ended (pipe() ends it when the other side finishes): on Node 20 a
 * reset during the shutdown fails with EINVAL and leaves the handle half-closed, and the
 * process then spins forever at exit waiting for it (this hung the chaos test worker in CI).
 */
function abort(s: Socket): void {
  if (s.writableEnded) s.destroy();
  else s.resetAndDestroy();
}
