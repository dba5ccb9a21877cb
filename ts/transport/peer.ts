/**
 * The peer transport: persistent TCP connections between nodes carrying binary frames
 * (`codec.ts`). Messages sent during one event-loop turn go to each peer as one frame.
 *
 * Delivery is best-effort, as Raft expects: while a peer is not connected its messages are
 * dropped (and `onUnreachable` lets the core switch that follower to probing) instead of
 * queueing without bound; connections are re-established with exponential backoff.
 * Limits: `frameBytesMax` for inbound frames, `queueBytesMax` for bytes waiting in a socket.
 */
import type { Server, Socket } from 'node:net';
import type { Message } from '../raft/types';
import { CodecError, decodeFrameBody, encodeFrame } from './codec';
import { FrameSplitter } from './frames';
import { acceptHello, encodeHello } from './hello';
import { CONNECTED_EVENT, dial, listen, peerIdOf, type PeerTls } from './peer_tls';
import { SNAPSHOT_KIND, SnapshotReceiver, type SnapshotReceiverHooks } from './snapshot_stream';

export interface PeerAddress {
  host: string;
  port: number;
}

/** `host:port` → address (throws on anything else). */
export function parsePeerAddress(raw: string): PeerAddress {
  const at = raw.lastIndexOf(':');
  const port = Number(raw.slice(at + 1));
  if (at <= 0 || raw.slice(at + 1).length === 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address must be host:port, got ${JSON.stringify(raw)}`);
  return { host: raw.slice(0, at), port };
}

export const formatPeerAddress = (a: PeerAddress): string => `${a.host}:${a.port}`;

export interface PeerTransportOptions {
  id: number;
  /** This node's cluster: every connection opens with it, and peers of another are refused (hello.ts). */
  clusterId: string;
  listen: PeerAddress;
  peers: ReadonlyMap<number, PeerAddress>;
  /** Every message of one inbound frame, in order. */
  onMessages: (messages: Message[]) => void;
  /** Messages to `id` were dropped because it is not connected or its socket is full. */
  onUnreachable?: (id: number) => void;
  /** A connection to a peer came up or went down. */
  onPeerState?: (id: number, up: boolean) => void;
  /** A peer sent bytes we could not decode; its connection was dropped. */
  onProtocolError?: (err: Error) => void;
  /** Where InstallSnapshot streams from leaders go; without it they are refused. */
  snapshots?: SnapshotReceiverHooks;
  /** Mutual TLS between members (peer_tls.ts); plain TCP without it. */
  tls?: PeerTls;
  frameBytesMax?: number;
  queueBytesMax?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

class Outbound {
  socket: Socket | undefined;
  up = false;
  backoffMs: number;
  timer: NodeJS.Timeout | undefined;
  pending: Message[] = [];

  constructor(
    readonly id: number,
    public address: PeerAddress,
    readonly minMs: number,
  ) {
    this.backoffMs = minMs;
  }
}

export class PeerTransport {
  private server: Server | undefined;
  private readonly outbound = new Map<number, Outbound>();
  private readonly inbound = new Set<Socket>();
  private flushScheduled = false;
  private closed = false;
  private readonly frameBytesMax: number;
  private readonly queueBytesMax: number;
  private readonly reconnectMaxMs: number;
  private readonly hello: Buffer;

  constructor(private readonly opts: PeerTransportOptions) {
    this.hello = encodeHello(opts.clusterId, opts.id);
    this.frameBytesMax = opts.frameBytesMax ?? 64 << 20;
    this.queueBytesMax = opts.queueBytesMax ?? 64 << 20;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 1000;
    for (const [id, address] of opts.peers) {
      if (id !== opts.id) this.outbound.set(id, new Outbound(id, address, opts.reconnectMinMs ?? 20));
    }
  }

  /** Starts listening and connecting; resolves to the bound port. */
  async start(): Promise<number> {
    const server = listen(this.opts.tls, (socket) => this.accept(socket), (err) => this.opts.onProtocolError?.(new CodecError(`TLS handshake refused: ${err.message}`)));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    for (const peer of this.outbound.values()) this.connect(peer);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('peer listener has no TCP address');
    return address.port;
  }

  /** Where `id` is reached (for snapshot streams), if it is a peer. */
  addressOf(id: number): PeerAddress | undefined {
    return this.outbound.get(id)?.address;
  }

  /**
   * Makes the outbound peers exactly `peers` (minus this node), as membership changes: new ones
   * are dialed, removed ones disconnected, a changed address redialed.
   */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    for (const [id, peer] of this.outbound) {
      const address = peers.get(id);
      if (address && address.host === peer.address.host && address.port === peer.address.port) continue;
      this.outbound.delete(id);
      clearTimeout(peer.timer);
      peer.socket?.destroy();
    }
    for (const [id, address] of peers) {
      if (id === this.opts.id || this.outbound.has(id)) continue;
      const peer = new Outbound(id, address, this.opts.reconnectMinMs ?? 20);
      this.outbound.set(id, peer);
      if (this.server) this.connect(peer);
    }
  }

  isUp(id: number): boolean {
    return this.outbound.get(id)?.up ?? false;
  }

  /** Queues messages; each peer gets one frame at the end of this turn. */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const peer = this.outbound.get(m.to);
      if (!peer) continue; // not a member (any more): nothing to send to
      peer.pending.push(m);
    }
    if (!this.flushScheduled && !this.closed) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const peer of this.outbound.values()) {
      clearTimeout(peer.timer);
      peer.socket?.destroy();
    }
    for (const socket of this.inbound) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const peer of this.outbound.values()) {
      if (peer.pending.length === 0) continue;
      const messages = peer.pending;
      peer.pending = [];
      const socket = peer.socket;
      // Not connected (yet or any more), or the socket already holds queueBytesMax: drop.
      if (!socket || !peer.up || socket.destroyed || socket.writableLength > this.queueBytesMax) {
        this.opts.onUnreachable?.(peer.id);
        continue;
      }
      socket.write(encodeFrame(messages));
    }
  }

  private connect(peer: Outbound): void {
    if (this.closed) return;
    const socket = dial(peer.address, this.opts.tls, peer.id, this.hello);
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.on(CONNECTED_EVENT(this.opts.tls), () => {
      peer.up = true;
      peer.backoffMs = this.opts.reconnectMinMs ?? 20;
      this.opts.onPeerState?.(peer.id, true);
    });
    // Peers never answer on this connection; replies come over their own connection to us.
    socket.on('data', () => socket.destroy());
    socket.on('error', () => {
      // 'close' follows and schedules the reconnect.
    });
    socket.on('close', () => {
      if (peer.socket !== socket || this.outbound.get(peer.id) !== peer) return;
      peer.socket = undefined;
      if (peer.up) {
        peer.up = false;
        this.opts.onPeerState?.(peer.id, false);
      }
      if (this.closed) return;
      peer.timer = setTimeout(() => this.connect(peer), peer.backoffMs);
      peer.backoffMs = Math.min(peer.backoffMs * 2, this.reconnectMaxMs);
    });
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.inbound.add(socket);
    const splitter = new FrameSplitter(this.frameBytesMax);
    // Over TLS the certificate says which member this is; its hello and messages must say the same.
    const certified = peerIdOf(socket);
    let greeted = false;
    let first = true;
    socket.on('data', (chunk: Buffer) => {
      let batches: Message[][];
      try {
        let bodies = splitter.push(chunk);
        if (!greeted && bodies.length > 0) {
          acceptHello(bodies[0], this.opts.clusterId, certified);
          greeted = true;
          bodies = bodies.slice(1);
        }
        if (first && bodies.length > 0) {
          first = false;
          // A snapshot stream announces itself in its first frame after the hello (see snapshot_stream.ts).
          if (bodies[0][0] === SNAPSHOT_KIND) {
            if (!this.opts.snapshots) throw new CodecError('this node does not accept snapshot streams');
            new SnapshotReceiver(socket, this.opts.snapshots).start(splitter, bodies);
            return;
          }
        }
        batches = bodies.map(decodeFrameBody);
        if (certified !== undefined) {
          const forged = batches.flat().find((m) => m.from !== certified);
          if (forged) throw new CodecError(`the connection of n${certified} sent a message from n${forged.from}`);
        }
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        this.opts.onProtocolError?.(err);
        socket.destroy();
        return;
      }
      for (const batch of batches) if (batch.length > 0) this.opts.onMessages(batch);
    });
    socket.on('error', () => {
      // A peer that vanished: 'close' cleans up.
    });
    socket.on('close', () => this.inbound.delete(socket));
  }
}
