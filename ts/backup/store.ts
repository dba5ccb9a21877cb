/**
 * Where backups live: a directory (`file:///path`, e.g. an NFS mount) or S3-compatible object
 * storage (`s3://bucket/prefix`). Both hold the same object names (`sst/<sha256>.sst`,
 * `snap/<index>-<term>/...`) and offer the few operations a backup, a verify and a restore need.
 *
 * S3: credentials and region from the standard AWS environment and config chain; the endpoint
 * from `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL` or the URL's `?endpoint=`; `?forcePathStyle=true`
 * for servers without virtual-hosted buckets. Files over `MULTIPART_BYTES_MIN` go up in parts
 * (`@aws-sdk/lib-storage`); smaller ones in one PUT, `If-None-Match: *` where asked.
 *
 * A file store writes each object to a temporary name, fsyncs it and renames it: an object that
 * exists is complete.
 */
import { closeSync, createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { QuorumError } from '../errors';

type S3Sdk = typeof import('@aws-sdk/client-s3');
type StorageSdk = typeof import('@aws-sdk/lib-storage');
let sdk: { s3: S3Sdk; storage: StorageSdk } | undefined;

/**
 * The AWS SDK, loaded when the first S3 store opens: it was ~95 ms and ~5 MB of heap of the
 * ~165 ms and ~14 MB that loading the `start` module took, which every node start and CLI call
 * paid whether or not it backs up to S3.
 */
function awsSdk(): { s3: S3Sdk; storage: StorageSdk } {
  return (sdk ??= { s3: require('@aws-sdk/client-s3') as S3Sdk, storage: require('@aws-sdk/lib-storage') as StorageSdk });
}

export interface BackupStore {
  /** The target as configured (no credentials in it). */
  readonly url: string;
  /** Stores `size` bytes from `open()` as `name`; with `ifAbsent`, an existing object is kept ('exists'). */
  putFile(name: string, open: () => Readable, size: number, ifAbsent: boolean): Promise<'stored' | 'exists'>;
  putBytes(name: string, body: Buffer): Promise<void>;
  /** The object's bytes as a stream; `backup_object_missing` naming it when it is absent. */
  read(name: string): Promise<Readable>;
  /** The object's size, or undefined when it is absent. */
  size(name: string): Promise<number | undefined>;
  /** Every object name starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object (nothing if absent). */
  delete(name: string): Promise<void>;
}

export const missing = (name: string) => new QuorumError('backup_object_missing', `the backup object ${name} is missing`, { details: { object: name } });

export function openStore(url: string): BackupStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new QuorumError('backup_target_invalid', `${JSON.stringify(url)} is not a URL: use file:///path or s3://bucket/prefix`);
  }
  if (parsed.protocol === 'file:') return new FileStore(url, fileURLToPath(parsed));
  if (parsed.protocol === 's3:' && parsed.hostname) return new S3Store(url, parsed);
  throw new QuorumError('backup_target_invalid', `${url}: use file:///path or s3://bucket/prefix`);
}

class FileStore implements BackupStore {
  constructor(
    readonly url: string,
    private readonly root: string,
  ) {
    mkdirSync(root, { recursive: true });
  }

  private path(name: string): string {
    if (name.split('/').some((p) => p === '..' || p === '')) throw new QuorumError('INVARIANT', `bad object name ${name}`);
    return join(this.root, ...name.split('/'));
  }

  private async commit(final: string, write: (tmp: string) => Promise<void>): Promise<void> {
    mkdirSync(dirname(final), { recursive: true });
    const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      await write(tmp);
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  async putFile(name: string, open: () => Readable, _size: number, ifAbsent: boolean): Promise<'stored' | 'exists'> {
    const final = this.path(name);
    if (ifAbsent && existsSync(final)) return 'exists';
    await this.commit(final, (tmp) => pipeline(open(), createWriteStream(tmp)));
    return 'stored';
  }

  async putBytes(name: string, body: Buffer): Promise<void> {
    await this.commit(this.path(name), async (tmp) => writeFileSync(tmp, body));
  }

  async read(name: string): Promise<Readable> {
    const p = this.path(name);
    if (!existsSync(p)) throw missing(name);
    return createReadStream(p);
  }

  async size(name: string): Promise<number | undefined> {
    const p = this.path(name);
    return existsSync(p) ? statSync(p).size : undefined;
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (!entry.name.includes('.tmp-')) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    walk(this.root);
    return out.filter((n) => n.startsWith(prefix)).sort();
  }

  async delete(name: string): Promise<void> {
    rmSync(this.path(name), { force: true });
  }
}

/** Files at least this large are uploaded in parts (S3's parts are ≥ 5 MiB). */
const MULTIPART_BYTES_MIN = 16 << 20;
/** Parts of one multipart upload in flight at once. */
const PART_UPLOADS_MAX = 2;

class S3Store implements BackupStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly s3 = awsSdk().s3;

  constructor(
    readonly url: string,
    parsed: URL,
  ) {
    this.bucket = parsed.hostname;
    this.prefix = parsed.pathname.replace(/^\/+/, '').replace(/\/*$/, '/').replace(/^\/$/, '');
    const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
    this.client = new this.s3.S3Client({
      endpoint,
      region: parsed.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1',
      forcePathStyle: parsed.searchParams.get('forcePathStyle') === 'true',
    });
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  async putFile(name: string, open: () => Readable, size: number, ifAbsent: boolean): Promise<'stored' | 'exists'> {
    if (ifAbsent && (await this.size(name)) !== undefined) return 'exists';
    if (size >= MULTIPART_BYTES_MIN) {
      await new (awsSdk().storage.Upload)({ client: this.client, queueSize: PART_UPLOADS_MAX, params: { Bucket: this.bucket, Key: this.key(name), Body: open() } }).done();
      return 'stored';
    }
    try {
      await this.client.send(new this.s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: open(), ContentLength: size, IfNoneMatch: ifAbsent ? '*' : undefined }));
    } catch (err) {
      // Another backup stored the same content meanwhile (412): it is the same bytes.
      if (ifAbsent && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) return 'exists';
      throw err;
    }
    return 'stored';
  }

  async putBytes(name: string, body: Buffer): Promise<void> {
    await this.client.send(new this.s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: body, ContentLength: body.length }));
  }

  async read(name: string): Promise<Readable> {
    try {
      const out = await this.client.send(new this.s3.GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return out.Body as Readable;
    } catch (err) {
      if (notFound(err)) throw missing(name);
      throw err;
    }
  }

  async size(name: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new this.s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return head.ContentLength;
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new this.s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new this.s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
  }
}

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}
