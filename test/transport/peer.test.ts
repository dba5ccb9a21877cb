/** Real TCP on 127.0.0.1 with ephemeral ports; every wait is on an event, never a timer. */
import { createConnection } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { type Message, MessageType, message } from '../../ts/raft';
import { encodeFrame } from '../../ts/transport/codec';
import { encodeHello } from '../../ts/transport/hello';
import { type PeerAddress, PeerTransport, type PeerTransportOptions } from '../../ts/transport/peer';

const HOST = '127.0.0.1';
const CLUSTER = '00000000000000c1';

/** A transport whose callbacks feed awaitable queues. */
class Harness {
  readonly received: Message[][] = [];
  readonly unreachable: number[] = [];
  readonly protocolErrors: Error[] = [];
  private waiters: (() => void)[] = [];
  transport!: PeerTransport;
  port = 0;

  constructor(readonly id: number, private peers: Map<number, PeerAddress>) {}

  async start(t: ExecutionContext, port = 0, extra: Partial<PeerTransportOptions> = {}): Promise<this> {
    this.transport = new PeerTransport({
      id: this.id,
      clusterId: CLUSTER,
      listen: { host: HOST, port },
      peers: this.peers,
      onMessages: (msgs) => this.event(() => this.received.push(msgs)),
      onUnreachable: (id) => this.event(() => this.unreachable.push(id)),
      onPeerState: () => this.event(() => undefined),
      onProtocolError: (err) => this.event(() => this.protocolErrors.push(err)),
      ...extra,
    });
    this.port = await this.transport.start();
    const transport = this.transport;
    t.teardown(() => transport.close());
    return this;
  }

  private event(record: () => void): void {
    record();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `cond` holds, re-checking after every callback. */
  async until(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  count(): number {
    return this.received.reduce((n, b) => n + b.length, 0);
  }
}

const app = (i: number, to: number, from: number): Message =>
  message({ type: MessageType.App, to, from, term: 3, index: i, logTerm: 2, commit: i, entries: [{ index: i + 1, term: 3, type: 0, data: Buffer.from(`e${i}`) }] });

async function pair(t: ExecutionContext): Promise<[Harness, Harness, Map<number, PeerAddress>]> {
  const peers = new Map<number, PeerAddress>();
  const b = await new Harness(2, peers).start(t);
  peers.set(2, { host: HOST, port: b.port });
  const a = await new Harness(1, peers).start(t);
  peers.set(1, { host: HOST, port: a.port });
  return [a, b, peers];
}

test('messages sent in one turn arrive in order as one frame', async (t) => {
  const [a, b] = await pair(t);
  await a.until(() => a.transport.isUp(2));
  const sent = Array.from({ length: 100 }, (_, i) => app(i, 2, 1));
  a.transport.send(sent);
  await b.until(() => b.count() === 100);
  t.is(b.received.length, 1, 'one frame for the whole turn');
  t.deepEqual(b.received[0].map((m) => [m.type, m.index, Buffer.from(m.entries[0].data).toString()]), sent.map((m) => [m.type, m.index, `e${m.index}`]));
});

test('a peer that goes away is reported unreachable, and reconnects when it returns', async (t) => {
  const [a, b, peers] = await pair(t);
  await a.until(() => a.transport.isUp(2));
  const port = b.port;
  await b.transport.close();
  await a.until(() => !a.transport.isUp(2));
  a.transport.send([app(1, 2, 1)]);
  await a.until(() => a.unreachable.includes(2));

  const back = await new Harness(2, peers).start(t, port);
  await a.until(() => a.transport.isUp(2));
  a.transport.send([app(2, 2, 1)]);
  await back.until(() => back.count() === 1);
  t.is(back.received[0][0].index, 2);
});

/** Writes `bytes` on a fresh connection to `port`; resolves once the peer closed it. */
function rawConnection(port: number, bytes: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const raw = createConnection({ host: HOST, port }, () => raw.write(bytes));
    raw.on('close', () => resolve());
    raw.on('error', () => undefined);
  });
}

test('garbage on the peer port drops that connection and nothing else', async (t) => {
  const [a, b] = await pair(t);
  await rawConnection(b.port, Buffer.concat([encodeHello(CLUSTER, 1), Buffer.from([5, 0, 0, 0, 42, 1, 2, 3, 4])]));
  await b.until(() => b.protocolErrors.length === 1);
  t.regex(b.protocolErrors[0].message, /wire version 42/);
  await a.until(() => a.transport.isUp(2));
  a.transport.send([app(7, 2, 1)]);
  await b.until(() => b.count() === 1);
  t.is(b.received[0][0].index, 7);
});

test('a frame above frameBytesMax is refused', async (t) => {
  const peers = new Map<number, PeerAddress>();
  const b = await new Harness(2, peers).start(t, 0, { frameBytesMax: 1024 });
  peers.set(2, { host: HOST, port: b.port });
  const a = await new Harness(1, peers).start(t);
  await a.until(() => a.transport.isUp(2));
  a.transport.send([message({ type: MessageType.App, to: 2, from: 1, entries: [{ index: 1, term: 1, type: 0, data: Buffer.alloc(4096) }] })]);
  await b.until(() => b.protocolErrors.length === 1);
  t.regex(b.protocolErrors[0].message, /exceeds frameBytesMax 1024/);
  t.is(b.count(), 0);
});

test('a connection that does not open with a hello is dropped before any message is read', async (t) => {
  const [, b] = await pair(t);
  const frame = encodeFrame([app(9, 2, 1)]);
  await rawConnection(b.port, frame);
  await b.until(() => b.protocolErrors.length === 1);
  t.regex(b.protocolErrors[0].message, /did not open with a hello/);
  t.is(b.count(), 0);
});

test('members of another cluster are refused, both ways, and never deliver a message', async (t) => {
  const peers = new Map<number, PeerAddress>();
  const b = await new Harness(2, peers).start(t);
  peers.set(2, { host: HOST, port: b.port });
  const a = await new Harness(1, peers).start(t, 0, { clusterId: '00000000000000c2' });
  peers.set(1, { host: HOST, port: a.port });
  b.transport.setPeers(peers);
  await b.until(() => b.protocolErrors.length >= 1);
  await a.until(() => a.protocolErrors.length >= 1);
  t.regex(b.protocolErrors[0].message, /n1 belongs to cluster 00000000000000c2, this node to cluster 00000000000000c1/);
  t.regex(a.protocolErrors[0].message, /n2 belongs to cluster 00000000000000c1, this node to cluster 00000000000000c2/);
  // The dialer's TCP connection may have come up before the refusal; what it sends is never delivered.
  a.transport.send([app(3, 2, 1)]);
  b.transport.send([app(4, 1, 1)]);
  await b.until(() => b.protocolErrors.length >= 2);
  t.is(b.count(), 0);
  t.is(a.count(), 0);
});
