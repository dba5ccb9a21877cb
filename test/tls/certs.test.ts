/**
 * Certificates from `quorumkv certs` (ts/tls/certs.ts) must parse under every OpenSSL users run:
 * Node 24's OpenSSL 3.5 refuses a non-minimal DER INTEGER ("illegal padding"), which a serial
 * starting with a 0x00 byte was (1 certificate in 16 before; CI caught one under Node 24).
 */
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { createCa, issueCert, serialHex } from '../../ts/tls/certs';

test('serials are 16 bytes, positive and minimal in DER (first byte 0x40-0x7f)', (t) => {
  for (let i = 0; i < 2000; i++) {
    const hex = serialHex();
    t.is(hex.length, 32);
    const first = Number.parseInt(hex.slice(0, 2), 16);
    if (first < 0x40 || first > 0x7f) return t.fail(`serial ${hex}`);
  }
  t.pass();
});

test('issued certificates parse, and carry the serial as written', (t) => {
  const ca = createCa('test-ca', 1);
  for (let i = 0; i < 8; i++) {
    const pem = issueCert(ca, { name: `n${i}`, hosts: ['127.0.0.1'], days: 1 });
    const cert = new X509Certificate(pem.cert);
    t.regex(cert.serialNumber, /^[4-7][0-9A-F]{31}$/);
  }
});
