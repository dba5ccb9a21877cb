/**
 * The first frame on every peer connection and snapshot stream names the dialer's cluster and
 * member id:
 *
 *   hello = HELLO_KIND u8 | version u8 | clusterId 8 bytes | from u64
 *
 * The acceptor drops a connection whose cluster id is not its own before reading anything else,
 * so two clusters that share addresses — above all a cluster restored from a backup (a new id)
 * and the one it was restored from — can never exchange a Raft message (etcd's rule: members of
 * different clusters refuse each other). Over TLS the certificate must name the same member.
 */
import { randomBytes } from 'node:crypto';
import { CodecError } from './codec';

/** Distinct from the message frames' version byte (1) and SNAPSHOT_KIND (0x53). */
export const HELLO_KIND = 0x48;
const HELLO_VERSION = 1;
const HELLO_BYTES = 4 + 2 + 8 + 8;

/** A cluster id: 16 lowercase hex digits (64 bits), as etcd prints its cluster ids. */
export const CLUSTER_ID_PATTERN = /^[0-9a-f]{16}$/;

export function checkClusterId(id: string): string {
  if (!CLUSTER_ID_PATTERN.test(id)) throw new Error(`a cluster id is 16 hex digits, got ${JSON.stringify(id)}`);
  return id;
}

export function randomClusterId(): string {
  return randomBytes(8).toString('hex');
}

/** The hello frame (with its length prefix) member `from` of cluster `clusterId` opens with. */
export function encodeHello(clusterId: string, from: number): Buffer {
  const buf = Buffer.alloc(HELLO_BYTES);
  buf.writeUInt32LE(HELLO_BYTES - 4, 0);
  buf[4] = HELLO_KIND;
  buf[5] = HELLO_VERSION;
  Buffer.from(checkClusterId(clusterId), 'hex').copy(buf, 6);
  buf.writeBigUInt64LE(BigInt(from), 14);
  return buf;
}

/**
 * Checks a connection's first frame body: a hello from a member of `clusterId` (and, over TLS,
 * from the member the certificate names). Returns the sender's id; throws CodecError otherwise.
 */
export function acceptHello(body: Buffer, clusterId: string, certified: number | undefined): number {
  if (body.length !== HELLO_BYTES - 4 || body[0] !== HELLO_KIND) throw new CodecError('the connection did not open with a hello frame (a peer of an older version, or not a quorumkv peer)');
  if (body[1] !== HELLO_VERSION) throw new CodecError(`hello version ${body[1]} is not supported (this node speaks ${HELLO_VERSION})`);
  const theirs = body.subarray(2, 10).toString('hex');
  const from = body.readBigUInt64LE(10);
  if (from > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError('hello: member id out of range');
  if (theirs !== clusterId) throw new CodecError(`n${from} belongs to cluster ${theirs}, this node to cluster ${clusterId}: connection refused`);
  if (certified !== undefined && Number(from) !== certified) throw new CodecError(`the connection of n${certified} said hello as n${from}`);
  return Number(from);
}
