/**
 * The leader's side of `--md-retention D`: keep about the newest D of stored market data. Once a
 * second the leader compares the newest venue time applied with what it last purged; once the
 * cut (newest − D) has moved on by a hundredth of D (so not an entry a second for nothing), it
 * proposes one `Op.MdPurge` up to it (ts/market/purge.ts decides what each instrument drops, the
 * same on every node). One is in flight at a time; a failed one is made again at the next check.
 *
 * Venue time, not the wall clock: a day of 2023 loaded for backtests keeps its newest D, and is
 * not dropped whole for being old.
 */
import { type Command, Op } from './commands';

/** How often (in ticks of `tickMs`, 10 ms by default) the leader looks. */
const RETENTION_CHECK_TICKS = 100;

export class MdRetention {
  private purging = false;
  /** The cut of this leader's last applied purge (0n: none yet). */
  private lastCutTs = 0n;

  constructor(
    /** Undefined: off. */
    private readonly retentionNs: bigint | undefined,
    private readonly newestTsEvent: () => bigint,
    private readonly isLeader: () => boolean,
    private readonly propose: (command: Omit<Command, 'origin' | 'seq'>) => Promise<unknown>,
  ) {}

  /** Called on every tick of the node (`ticks`: its count so far). */
  tick(ticks: number): void {
    if (ticks % RETENTION_CHECK_TICKS === 0) this.check();
  }

  private check(): void {
    const retention = this.retentionNs;
    if (retention === undefined || this.purging || !this.isLeader()) return;
    const cut = this.newestTsEvent() - retention;
    if (cut <= 0n || cut - this.lastCutTs < retention / 100n) return;
    this.purging = true;
    this.propose({ op: Op.MdPurge, key: cut.toString() }).then(
      () => {
        this.purging = false;
        this.lastCutTs = cut;
      },
      () => (this.purging = false),
    );
  }
}
