/**
 * Mutual TLS between members (`--peer-cert`, `--peer-key`, `--peer-ca`): every peer connection
 * and snapshot stream is TLS, both sides present certificates signed by the peer CA, and a
 * certificate names its member — CN=n<id>. A dialer accepts only the member it meant to reach;
 * an acceptor learns who is talking from the certificate (`peerIdOf`) and drops a connection
 * whose messages claim another sender. Without TLS options, plain TCP.
 */
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { PeerAddress } from './peer';

export interface PeerTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export function loadPeerTls(files: { cert: string; key: string; ca: string }): PeerTls {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca) };
}

/** The member a certificate names (CN=n<id>), if it names one. */
function memberOf(cert: PeerCertificate | undefined): number | undefined {
  const cn = cert?.subject?.CN;
  const m = typeof cn === 'string' ? /^n([1-9]\d{0,9})$/.exec(cn) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * A connection to member `id` at `address`: TLS that accepts only `id`'s certificate, or TCP.
 * `hello` (hello.ts) is its first frame, queued at once (the socket sends it once connected).
 */
export function dial(address: PeerAddress, tls: PeerTls | undefined, id: number, hello: Buffer): Socket {
  const socket = tls ? dialTls(address, tls, id) : createConnection({ host: address.host, port: address.port });
  socket.write(hello);
  return socket;
}

function dialTls(address: PeerAddress, tls: PeerTls, id: number): Socket {
  return tlsConnect({
    host: address.host,
    port: address.port,
    ...tls,
    // The member id, not the host name, is what a peer certificate vouches for.
    checkServerIdentity: (_host, cert) => (memberOf(cert) === id ? undefined : new Error(`the peer at ${address.host}:${address.port} presented ${cert.subject?.CN ?? 'no name'}, expected n${id}`)),
  });
}

/** The event a connected socket signals readiness with (TLS: after the handshake). */
export const CONNECTED_EVENT = (tls: PeerTls | undefined): string => (tls ? 'secureConnect' : 'connect');

/** A listener calling `onSocket` per accepted connection (TLS: after a verified handshake). */
export function listen(tls: PeerTls | undefined, onSocket: (socket: Socket) => void, onRefused: (err: Error) => void): Server {
  if (!tls) return createServer(onSocket);
  const server = createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, onSocket);
  server.on('tlsClientError', onRefused);
  return server;
}

/** The member an accepted TLS connection's certificate names (undefined on plain TCP). */
export function peerIdOf(socket: Socket): number | undefined {
  const tls = socket as TLSSocket;
  return typeof tls.getPeerCertificate === 'function' ? memberOf(tls.getPeerCertificate()) : undefined;
}
