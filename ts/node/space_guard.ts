/**
 * The disk-space guard (etcd's NOSPACE alarm). A full disk stops a node — its WAL cannot write —
 * and members with equal disks fill together, so the whole cluster would stop at once and could
 * not even take the deletes that free space. Instead, a member whose data directory's file
 * system has less than its reserve free raises an alarm through the log; while any member's
 * alarm is raised the cluster takes reads, deletes and its own upkeep (TTL expiry, purges,
 * membership, sessions) but refuses writes that add data — puts, increments, txns with either,
 * market-data ingest — with 507 `no_space`, where they would be proposed, so nothing of them is
 * logged. The member clears its alarm itself once it has `SPACE_CLEAR_RATIO` × its reserve free.
 *
 * Every `SPACE_CHECK_TICKS` (100 ms) the guard reads the free bytes (statfs) and reconciles: it proposes
 * a raise or a clear while the replicated state disagrees with what it measured, so a proposal
 * lost to a leader change is made again at the next check. One check (and proposal) at a time.
 * The alarms live in the membership record: carried by snapshots, dropped with their member.
 */
import { statfs } from 'node:fs/promises';
import { QuorumError } from '../errors';
import { type Command, Op } from './commands';
import type { MembersRecord, SpaceAlarm } from './membership';

/**
 * How often (in ticks of `tickMs`, 10 ms by default) a member reads its free space: a statfs
 * is a few microseconds, and writes at 100 MB/s (sequential 200 KB puts on tmpfs) ran through a
 * 16 MiB reserve and the rest of a 96 MiB disk between two readings a second apart.
 */
export const SPACE_CHECK_TICKS = 10;
/** A raised alarm clears at this multiple of the reserve free, so it does not flap at the edge. */
export const SPACE_CLEAR_RATIO = 1.25;
/**
 * While below its reserve a member takes a snapshot this often (if anything applied since its
 * last): a snapshot compacts the log — most of what a disk fills with under large writes — and
 * drops the previous snapshot's links to engine files that deletes and compactions replaced.
 * Otherwise the small entries of deletes would not reach the next snapshot's trigger for long.
 */
export const SPACE_RECLAIM_TICKS = 1000;
/** The default reserve (`--space-reserve-mib`): room for the deletes, purges and compactions that free space. */
export const SPACE_RESERVE_BYTES_DEFAULT = 512 * 2 ** 20;

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export type FreeBytes = (dir: string) => Promise<number>;

export const statfsFreeBytes: FreeBytes = async (dir) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/** What the guard reports: a crossing of the reserve, or a reading that failed. */
export type SpaceEvent = { low: boolean; freeBytes: number; reserveBytes: number } | { error: Error };

export class SpaceGuard {
  /** The last reading: below the reserve (undefined before the first). */
  private low: boolean | undefined;
  /** Free bytes at the last reading. */
  freeBytes: number | undefined;
  private checking = false;
  /** The last reading failed (reported once until one succeeds). */
  private unreadable = false;

  private readonly id: number;
  private readonly dir: string;
  /** 0: off (no reading, no alarm from this member). */
  readonly reserveBytes: number;
  private readonly readFree: FreeBytes;
  private readonly report: (event: SpaceEvent) => void;

  constructor(
    cfg: { id: number; dataDir: string; spaceReserveBytes: number; freeBytes?: FreeBytes; onSpace?: (event: SpaceEvent) => void },
    private readonly members: () => MembersRecord,
    private readonly propose: (command: Omit<Command, 'origin' | 'seq'>) => Promise<unknown>,
    /** Starts a snapshot if anything applied since the last (see `SPACE_RECLAIM_TICKS`). */
    private readonly reclaim: () => void = () => undefined,
  ) {
    this.id = cfg.id;
    this.dir = cfg.dataDir;
    this.reserveBytes = cfg.spaceReserveBytes;
    this.readFree = cfg.freeBytes ?? statfsFreeBytes;
    this.report = cfg.onSpace ?? (() => undefined);
  }

  /** Called on every tick of the node (`ticks`: its count so far). */
  tick(ticks: number): void {
    if (this.reserveBytes === 0) return;
    if (ticks % SPACE_CHECK_TICKS === 0 && !this.checking) void this.check();
    if (ticks % SPACE_RECLAIM_TICKS === 0 && this.low) this.reclaim();
  }

  /** The raised alarms, by member id (empty: writes are taken). */
  alarms(): [number, SpaceAlarm][] {
    return Object.entries(this.members().alarms ?? {}).map(([id, alarm]) => [Number(id), alarm]);
  }

  /** Whether any member's alarm is raised. */
  get alarmed(): boolean {
    return this.members().alarms !== undefined;
  }

  /** Why `command` may not be proposed now: it adds data while an alarm is raised. */
  refusal(command: Pick<Command, 'op' | 'txn' | 'items' | 'itemsRaw'>): QuorumError | undefined {
    if (!this.alarmed || !addsData(command)) return undefined;
    return noSpaceError(this.alarms());
  }

  /** The free bytes now (a reading of its own: also with the guard off). */
  readNow(): Promise<number> {
    return this.readFree(this.dir);
  }

  /** One reading, and the proposal it calls for (what `tick` starts every `SPACE_CHECK_TICKS`). */
  async check(): Promise<void> {
    this.checking = true;
    try {
      const free = await this.readFree(this.dir);
      this.freeBytes = free;
      const raised = this.members().alarms?.[String(this.id)] !== undefined;
      // (After a restart the replicated alarm says which side of the edge this member was on.)
      const low = free < this.reserveBytes * ((this.low ?? raised) ? SPACE_CLEAR_RATIO : 1);
      if (low !== this.low) this.report({ low, freeBytes: free, reserveBytes: this.reserveBytes });
      this.low = low;
      if (low !== raised) await this.propose({ op: Op.Alarm, key: low ? `${this.id} raise ${free} ${this.reserveBytes}` : `${this.id} clear` }).catch(() => undefined);
      this.unreadable = false;
    } catch (err) {
      // Once per run of failures, not ten lines a second (the alarm stays as it was meanwhile).
      if (!this.unreadable) this.report({ error: err as Error });
      this.unreadable = true;
    } finally {
      this.checking = false;
    }
  }
}

/** A write that stores more: a put or increment (alone, in a txn or in a batch), or market data. */
export function addsData(c: Pick<Command, 'op' | 'txn' | 'items' | 'itemsRaw'>): boolean {
  switch (c.op) {
    case Op.Put:
    case Op.Incr:
    case Op.MdIngest:
      return true;
    case Op.Txn:
      return [...c.txn!.success, ...c.txn!.failure].some((op) => op.kind === 'put' || op.kind === 'incr');
    case Op.Batch:
      // (Encoded items are plain puts and deletes: assume a put.)
      return c.items === undefined || c.items.some((it) => it.op === Op.Put || it.op === Op.Incr);
    default:
      return false;
  }
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function noSpaceError(alarms: readonly [number, SpaceAlarm][]): QuorumError {
  const which = alarms.map(([id, a]) => `n${id} has ${mib(a.freeBytes)} free, below its reserve of ${mib(a.reserveBytes)}`).join('; ');
  return new QuorumError('no_space', `a member's disk is nearly full (${which}): only reads and deletes are taken until it has space again — delete keys or purge market data (then \`quorumkv defrag\` gives their space back), or grow the disk`, {
    details: { alarms: alarms.map(([member, a]) => ({ member, freeBytes: a.freeBytes, reserveBytes: a.reserveBytes })) },
  });
}
