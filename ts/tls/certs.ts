/**
 * A local certificate authority for tests and small deployments (`quorumkv certs init|issue`):
 * RSA-2048 keys from node:crypto, X.509 certificates built and signed by node-forge (Node has
 * no certificate builder; no openssl shell-outs). Node certificates carry CN=<name> (e.g. n1:
 * peers check the member id against it) and the hosts as subject alternative names.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface Pem {
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** The certificate's common name: a member's name (n1) or a client's. */
  name: string;
  /** DNS names and IP addresses the certificate is valid for (server use). */
  hosts: string[];
  days: number;
  /** Client-only certificates (no serverAuth). */
  clientOnly?: boolean;
}

function keyPair(): { privatePem: string; publicKey: forge.pki.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { privatePem: privateKey, publicKey: forge.pki.publicKeyFromPem(publicKey) };
}

/**
 * A random 16-byte certificate serial, as hex, whose DER INTEGER is positive and minimal: the
 * first byte is 0x40-0x7f. (A serial starting 0x00 is a non-minimal INTEGER: OpenSSL 3.5, in
 * Node 24, refuses such a certificate with "illegal padding"; one starting ≥ 0x80 is negative.)
 */
export function serialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0] & 0x3f);
  return bytes.toString('hex');
}

function baseCert(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  return cert;
}

export function createCa(name: string, days: number): Pem {
  const { privatePem, publicKey } = keyPair();
  const cert = baseCert(publicKey, days);
  const subject = [{ name: 'commonName', value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privatePem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privatePem };
}

export function issueCert(ca: Pem, opts: IssueOptions): Pem {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const { privatePem, publicKey } = keyPair();
  const cert = baseCert(publicKey, opts.days);
  cert.setSubject([{ name: 'commonName', value: opts.name }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = opts.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: !opts.clientOnly, clientAuth: true },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privatePem };
}
