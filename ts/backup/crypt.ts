/**
 * Encryption at rest for backups (`--backup-encryption-key-file`): every object is sealed with
 * AES-256-GCM under the key — `QKE1` | IV (12 bytes, random per object) | ciphertext | tag (16)
 * — and stored as `<name>.enc`, so encrypted and plain objects never share a name. A store
 * opened with a key sees only its encrypted objects; one opened without a key is told the
 * backups are encrypted rather than misreading them. A tag that does not verify is
 * `backup_corrupt` naming the object (tampering or the wrong key). With a key configured that
 * cannot be read, nothing is backed up: plaintext is never written instead.
 */
import { createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pipeline, Readable, Transform } from 'node:stream';
import { QuorumError } from '../errors';
import { missing, openStore, type BackupStore } from './store';
import { readAll } from './manifest';

const MAGIC = Buffer.from('QKE1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const OVERHEAD_BYTES = MAGIC.length + IV_BYTES + TAG_BYTES;
export const ENCRYPTED_SUFFIX = '.enc';

/** A 32-byte key from a file holding 64 hex digits or base64 of 32 bytes. */
export function loadKey(path: string): Buffer {
  const text = readFileSync(path, 'utf8').trim();
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(text) && key.toString('base64') !== text)) {
    throw new QuorumError('backup_target_invalid', `${path}: an encryption key is 32 bytes, written as 64 hex digits or base64 (e.g. openssl rand -hex 32)`);
  }
  return key;
}

function sealer(key: Buffer): Transform {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const head = started ? [] : [MAGIC, iv];
      started = true;
      done(null, Buffer.concat([...head, cipher.update(chunk)]));
    },
    flush(done) {
      const head = started ? [] : [MAGIC, iv];
      done(null, Buffer.concat([...head, cipher.final(), cipher.getAuthTag()]));
    },
  });
}

/** Opens `QKE1 | iv | ciphertext | tag`, holding back the last 16 bytes until the end (the tag). */
function opener(key: Buffer, object: string): Transform {
  let head = Buffer.alloc(0);
  let decipher: DecipherGCM | undefined;
  let tail = Buffer.alloc(0);
  const corrupt = (why: string) => new QuorumError('backup_corrupt', `${object}: ${why}`, { details: { object } });
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!decipher) {
        head = Buffer.concat([head, chunk]);
        if (head.length < MAGIC.length + IV_BYTES) return done();
        if (!head.subarray(0, MAGIC.length).equals(MAGIC)) return done(corrupt('not an encrypted backup object'));
        decipher = createDecipheriv('aes-256-gcm', key, head.subarray(MAGIC.length, MAGIC.length + IV_BYTES));
        chunk = head.subarray(MAGIC.length + IV_BYTES);
      }
      const data = Buffer.concat([tail, chunk]);
      tail = data.subarray(Math.max(0, data.length - TAG_BYTES));
      done(null, decipher.update(data.subarray(0, data.length - tail.length)));
    },
    flush(done) {
      if (!decipher || tail.length !== TAG_BYTES) return done(corrupt('truncated'));
      decipher.setAuthTag(tail);
      try {
        done(null, decipher.final());
      } catch {
        done(corrupt('its authentication tag does not verify (damaged, or another key)'));
      }
    },
  });
}

/** `inner` with every object sealed under `key` (names get `.enc`). */
export function encrypted(inner: BackupStore, key: Buffer): BackupStore {
  const enc = (name: string) => name + ENCRYPTED_SUFFIX;
  const through = (source: Readable, t: Transform) => pipeline(source, t, () => undefined);
  return {
    url: inner.url,
    putFile: (name, open, size, ifAbsent) => inner.putFile(enc(name), () => through(open(), sealer(key)), size + OVERHEAD_BYTES, ifAbsent),
    putBytes: async (name, body) => inner.putBytes(enc(name), (await readAll(through(Readable.from([body]), sealer(key)))).bytes),
    read: async (name) => through(await inner.read(enc(name)).catch((err: unknown) => Promise.reject((err as QuorumError).code === 'backup_object_missing' ? missing(name) : err)), opener(key, name)),
    size: async (name) => {
      const n = await inner.size(enc(name));
      return n === undefined ? undefined : n - OVERHEAD_BYTES;
    },
    list: async (prefix) => (await inner.list(prefix)).filter((n) => n.endsWith(ENCRYPTED_SUFFIX)).map((n) => n.slice(0, -ENCRYPTED_SUFFIX.length)),
    delete: (name) => inner.delete(enc(name)),
  };
}

/** The target at `url`, sealed with the key in `keyFile` when one is given. */
export function openTarget(url: string, keyFile?: string): BackupStore {
  const store = openStore(url);
  return keyFile === undefined ? store : encrypted(store, loadKey(keyFile));
}
