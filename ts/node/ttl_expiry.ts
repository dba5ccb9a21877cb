/**
 * The leader's side of key TTLs: when to propose an `Op.Expire` entry (ts/node/key_ttl.ts has the
 * state machine's side, which decides what an entry deletes). Every `EXPIRE_CHECK_TICKS` ticks the
 * leader compares its clock with the earliest expiry; once past it, it proposes one entry
 * carrying its clock, which deletes what is due by it on every node. One is in flight at a time:
 * once it applied, the next goes at once if more is due (past `EXPIRE_KEYS_MAX`); a refused or
 * failed one is made again at the next check. (Four in flight deleted no faster.)
 */
import { type Command, Op } from './commands';
import type { KeyTtl } from './key_ttl';

/** How often (in ticks of `tickMs`, 10 ms by default) the leader looks for keys past their TTL. */
const EXPIRE_CHECK_TICKS = 10;

export class TtlExpiry {
  /** An Expire entry this leader proposed and has not seen applied. */
  private expiring = false;

  constructor(
    private readonly ttl: KeyTtl,
    private readonly isLeader: () => boolean,
    private readonly propose: (command: Omit<Command, 'origin' | 'seq'>) => Promise<unknown>,
  ) {}

  /** Called on every tick of the node (`ticks`: its count so far). */
  tick(ticks: number): void {
    if (ticks % EXPIRE_CHECK_TICKS === 0) this.check();
  }

  private check(): void {
    if (this.expiring || !this.isLeader()) return;
    const earliest = this.ttl.earliest();
    const nowMs = Date.now();
    if (earliest === undefined || earliest > nowMs) return;
    this.expiring = true;
    this.propose({ op: Op.Expire, key: '', atMs: nowMs }).then(
      () => {
        this.expiring = false;
        this.check();
      },
      () => (this.expiring = false),
    );
  }
}
