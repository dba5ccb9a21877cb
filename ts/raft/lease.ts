/**
 * The leader lease behind lease-based linearizable reads (the Raft dissertation's §6.4.1; TiKV's
 * default, etcd's `ReadOnlyLeaseBased`): a leader that a quorum acknowledged recently answers a
 * read at its commit index without a heartbeat round.
 *
 * Why it holds: a voter that heard from this leader grants no vote for `electionTimeoutTicks`
 * ticks (the `inLease` check, with CheckQuorum), and neither campaigns itself, so no other leader
 * can be elected until that long after a quorum last heard from us. Each heartbeat round is
 * numbered and its send time kept; a follower echoes the number, and the lease runs from the
 * newest round a quorum acknowledged, measured from when it was *sent* (before it was received),
 * for `durationMs`, which the driver sets below the followers' timeout in milliseconds with a
 * margin for clock-rate drift. A voter that restarted forgot whom it heard from: the driver
 * fences its votes for an election timeout after start (`startupVoteFence`).
 *
 * Revoked for the rest of the term once this leader hands over leadership (a transfer's
 * campaign bypasses the voters' lease). Limit: `ROUNDS_MAX` send times kept; an answer to an
 * older round no longer extends the lease (it only makes the lease shorter: safe).
 */
export const ROUNDS_MAX = 64;

/**
 * The lease a driver may use: its followers grant no vote until `electionTimeoutTicks` ticks
 * after hearing from the leader, and their first tick may come at once (so one tick less), and
 * a tick may run up to a millisecond short (one more); the rest is cut by `driftFraction` for
 * clock-rate drift between the leader's clock and the followers' timers.
 */
export function leaseDurationMs(tickMs: number, electionTimeoutTicks: number, driftFraction = 0.1): number {
  return Math.max(0, (electionTimeoutTicks - 2) * tickMs * (1 - driftFraction));
}

export class LeaderLease {
  private round = 0;
  /** Send time (ms) of each recent round, oldest first. */
  private readonly sentMs = new Map<number, number>();
  /** Per voter: the send time of the newest round it acknowledged in this term. */
  private readonly ackedMs = new Map<number, number>();
  private revoked = false;

  constructor(
    readonly durationMs: number,
    private readonly nowMs: () => number,
  ) {}

  get enabled(): boolean {
    return this.durationMs > 0;
  }

  /** A heartbeat round leaves now: the number its messages carry (0 with the lease off). */
  sent(): number {
    if (!this.enabled) return 0;
    // Numbers are never reused, across terms too: an answer matches only the round it answers.
    const round = ++this.round;
    this.sentMs.set(round, this.nowMs());
    if (this.sentMs.size > ROUNDS_MAX) this.sentMs.delete(this.sentMs.keys().next().value!);
    return round;
  }

  /** `from` answered round `round`. */
  acked(from: number, round: number): void {
    const sent = this.sentMs.get(round);
    if (sent === undefined) return;
    if (sent > (this.ackedMs.get(from) ?? -Infinity)) this.ackedMs.set(from, sent);
  }

  /** Leadership is being handed over: no lease reads for the rest of this term. */
  revoke(): void {
    this.revoked = true;
  }

  /** A new term of leadership: nothing acknowledged yet. */
  reset(): void {
    this.ackedMs.clear();
    this.sentMs.clear();
    this.revoked = false;
  }

  /** Whether a quorum of `voters` (`self` counts as now) acknowledged a round younger than the lease. */
  held(voters: ReadonlySet<number>, self: number, quorum: number): boolean {
    if (!this.enabled || this.revoked) return false;
    const now = this.nowMs();
    let fresh = 0;
    for (const id of voters) {
      const at = id === self ? now : this.ackedMs.get(id);
      if (at !== undefined && now - at < this.durationMs) fresh++;
    }
    return fresh >= quorum;
  }
}
