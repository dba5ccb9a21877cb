/**
 * InstallSnapshot transfer: a leader streams a snapshot's files to a follower over a separate
 * TCP connection to the follower's peer port, so heartbeats and appends to it (and everything
 * to other followers) keep flowing on the regular connections meanwhile.
 *
 * The stream is the dialer's hello (hello.ts), then frames (`len u32 | body`), every body
 * starting with `SNAPSHOT_KIND` (never a wire version, so the peer listener tells the two
 * connection kinds apart by the first frame after the hello):
 *
 *   header = kind u8 | 1 u8 | message-frame-len u32 | message frame (the MsgSnap) | manifest JSON
 *   chunk  = kind u8 | 2 u8 | file u32 | bytes       (files in manifest order, each in order)
 *   end    = kind u8 | 3 u8 | crc32 u32              (over every chunk's bytes, in order)
 *
 * and the receiver answers one byte: 1 when the files were complete, matched the checksum and
 * were sealed as a snapshot (then the MsgSnap goes to the core), 0 otherwise. Flow control is
 * TCP's: the sender waits for `drain` before reading the next chunk from disk.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Message } from '../raft/types';
import { QuorumError } from '../errors';
import { BinaryReader } from '../binary';
import { CodecError, decodeFrameBody, encodeFrame, FRAME_HEADER_BYTES } from './codec';
import { FrameSplitter } from './frames';
import { encodeHello } from './hello';
import type { PeerAddress } from './peer';
import { CONNECTED_EVENT, dial, type PeerTls } from './peer_tls';

export const SNAPSHOT_KIND = 0x53;
export const PART_HEADER = 1;
export const PART_CHUNK = 2;
export const PART_END = 3;

export interface ManifestFile {
  name: string;
  size: number;
}

/** One stream frame (exported for tests that build broken streams). */
export function snapshotFrame(part: number, payload: Buffer[]): Buffer {
  const bodyLen = 2 + payload.reduce((n, b) => n + b.length, 0);
  const head = Buffer.alloc(FRAME_HEADER_BYTES + 2);
  head.writeUInt32LE(bodyLen, 0);
  head[4] = SNAPSHOT_KIND;
  head[5] = part;
  return Buffer.concat([head, ...payload]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export interface SnapshotLink {
  /** The sender's cluster (the stream opens with its hello, hello.ts). */
  clusterId: string;
  tls?: PeerTls;
  chunkBytes?: number;
}

/**
 * Streams the snapshot in `root` (files as listed) to `address`; resolves once the receiver
 * confirmed it, rejects on any failure (the caller reports the snapshot as failed).
 */
export async function sendSnapshot(address: PeerAddress, msg: Message, root: string, files: readonly ManifestFile[], link: SnapshotLink): Promise<void> {
  const { tls, chunkBytes = 1 << 20 } = link;
  const socket = dial(address, tls, msg.to, encodeHello(link.clusterId, msg.from));
  const closed = new Promise<void>((_, reject) => {
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('snapshot stream closed before the receiver confirmed')));
  });
  closed.catch(() => undefined);
  const reply = new Promise<number>((resolve) => socket.once('data', (b: Buffer) => resolve(b[0])));
  const write = async (buf: Buffer) => {
    if (!socket.write(buf)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
  };
  try {
    await Promise.race([new Promise((r) => socket.once(CONNECTED_EVENT(tls), r)), closed]);
    const msgFrame = encodeFrame([msg]).subarray(FRAME_HEADER_BYTES);
    await write(snapshotFrame(PART_HEADER, [u32(msgFrame.length), msgFrame, Buffer.from(JSON.stringify(files))]));
    let crc = 0;
    const buf = Buffer.allocUnsafe(chunkBytes);
    for (let i = 0; i < files.length; i++) {
      const fh = await open(join(root, files[i].name), 'r');
      try {
        for (let at = 0; at < files[i].size; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(chunkBytes, files[i].size - at), at);
          if (bytesRead === 0) throw new Error(`${files[i].name} shrank while streaming`);
          const data = Buffer.from(buf.subarray(0, bytesRead));
          crc = crc32(data, crc);
          await write(snapshotFrame(PART_CHUNK, [u32(i), data]));
          at += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
    await write(snapshotFrame(PART_END, [u32(crc)]));
    const ok = await Promise.race([reply, closed]);
    if (ok !== 1) throw new Error('the receiver rejected the snapshot');
  } finally {
    socket.destroy();
  }
}

export interface SnapshotReceiverHooks {
  /** A directory to write the files of the snapshot `msg` carries into. */
  begin: (msg: Message) => string;
  /** All files arrived intact in `dir`: make them the snapshot and hand `msg` to the core. */
  commit: (msg: Message, dir: string) => void;
  /**
   * The stream failed (`reason` says why, with a code): remove `dir` (undefined when the
   * stream failed before a directory was begun).
   */
  discard: (dir: string | undefined, reason: Error) => void;
  /** Most bytes one snapshot may carry. */
  snapshotBytesMax: number;
}

/** The manifest: file names relative to the snapshot directory (never escaping it) and sizes. */
function parseManifest(raw: Buffer): ManifestFile[] {
  let files: unknown;
  try {
    files = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new CodecError('the snapshot manifest is not JSON');
  }
  if (!Array.isArray(files)) throw new CodecError('the snapshot manifest is not a list of files');
  for (const f of files as ManifestFile[]) {
    if (typeof f?.name !== 'string' || f.name.startsWith('/') || f.name.split('/').some((p) => p === '..' || p === '') || !Number.isSafeInteger(f.size) || f.size < 0) {
      throw new CodecError(`bad snapshot manifest entry ${JSON.stringify(f)}`);
    }
  }
  return files as ManifestFile[];
}

/** Receives one snapshot stream on an accepted connection whose first frame said so. */
export class SnapshotReceiver {
  private msg: Message | undefined;
  private files: ManifestFile[] = [];
  private dir: string | undefined;
  private file = -1;
  private fd: number | undefined;
  private written = 0;
  private crc = 0;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly hooks: SnapshotReceiverHooks,
  ) {}

  /** Takes over the connection; `first` are the frames already split from it. */
  start(splitter: FrameSplitter, first: Buffer[]): void {
    this.socket.removeAllListeners('data');
    const feed = (bodies: Buffer[]) => {
      try {
        for (const b of bodies) this.onFrame(b);
      } catch (err) {
        this.fail(err as Error);
      }
    };
    this.socket.on('data', (chunk: Buffer) => {
      if (this.finished) return;
      let bodies: Buffer[];
      try {
        bodies = splitter.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      feed(bodies);
    });
    this.socket.on('close', () => {
      if (!this.finished) this.fail(new QuorumError('SNAPSHOT_INVALID', 'snapshot stream ended early'));
    });
    feed(first);
  }

  private onFrame(body: Buffer): void {
    if (this.finished) return;
    const r = new BinaryReader(body, (what) => new CodecError(`malformed snapshot stream frame: ${what}`));
    if (r.u8('kind') !== SNAPSHOT_KIND) throw new CodecError('not a snapshot stream frame');
    const part = r.u8('part');
    if (part === PART_HEADER) return this.onHeader(r);
    if (!this.msg || !this.dir) throw new CodecError('snapshot data before its header');
    if (part === PART_CHUNK) return this.onChunk(r.u32('file'), body.subarray(r.at));
    if (part === PART_END) return this.onEnd(r.u32('checksum'), this.msg, this.dir);
    throw new CodecError(`unknown snapshot stream part ${part}`);
  }

  private onHeader(r: BinaryReader): void {
    if (this.msg) throw new CodecError('second snapshot header');
    const msgs = decodeFrameBody(r.bytes('message frame'));
    const msg = msgs[0];
    if (msgs.length !== 1 || !msg.snapshot) throw new CodecError('snapshot header without a snapshot message');
    const files = parseManifest(r.rest());
    const total = files.reduce((n, f) => n + f.size, 0);
    if (total > this.hooks.snapshotBytesMax) throw new CodecError(`snapshot of ${total} bytes exceeds snapshotBytesMax ${this.hooks.snapshotBytesMax}`);
    this.msg = msg;
    this.files = files;
    this.dir = this.hooks.begin(msg);
  }

  private onChunk(i: number, data: Buffer): void {
    if (i !== this.file) this.advanceTo(i);
    if (this.written + data.length > this.files[i].size) throw new CodecError(`snapshot file ${this.files[i].name} longer than announced`);
    writeSync(this.fd!, data, 0, data.length, this.written);
    this.written += data.length;
    this.crc = crc32(data, this.crc);
  }

  private onEnd(checksum: number, msg: Message, dir: string): void {
    this.advanceTo(this.files.length);
    this.closeFile();
    if (checksum !== this.crc >>> 0) throw new CodecError('snapshot checksum mismatch');
    this.hooks.commit(msg, dir);
    this.finished = true;
    this.socket.end(Buffer.from([1]));
  }


  /**
   * Moves on to file `i` (`files.length`: past the last). The current file must be complete;
   * files in between carry no chunks, so they must be empty.
   */
  private advanceTo(i: number): void {
    if (i <= this.file || i > this.files.length) throw new CodecError(`snapshot file ${i} out of order`);
    if (this.file >= 0 && this.written !== this.files[this.file].size) throw new CodecError(`snapshot file ${this.files[this.file].name} ended early`);
    for (let k = this.file + 1; k < i; k++) {
      if (this.files[k].size !== 0) throw new CodecError(`snapshot file ${this.files[k].name} was skipped`);
      this.nextFile(k);
    }
    if (i < this.files.length) this.nextFile(i);
    else {
      this.closeFile();
      this.file = i;
    }
  }

  private nextFile(i: number): void {
    this.closeFile();
    const path = join(this.dir!, this.files[i].name);
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
    this.file = i;
    this.written = 0;
  }

  private closeFile(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.closeFile();
    this.hooks.discard(this.dir, err);
    if (!this.socket.destroyed) this.socket.end(Buffer.from([0]));
  }
}
