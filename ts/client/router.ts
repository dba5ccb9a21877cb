/**
 * Where a call goes: writes and linearizable reads to the leader, stale reads to any member (in
 * turn). The leader and the members' client addresses come from `GET /v1/cluster` on any
 * endpoint that answers; `forget` (after `unavailable`, a lost connection, a timeout) makes the
 * next call look again. One discovery at a time: concurrent callers share it.
 */
import type { Transport } from './transport';
import { answerError, QuorumClientError } from './errors';

interface ClusterView {
  leader: number | null;
  members: { id: number; client: string | null }[];
}

const INCOMPLETE_VIEW_RETRY_MS = 1000;

export class Router {
  private leaderOrigin: string | undefined;
  private members: string[];
  private discovering: Promise<string> | undefined;
  private next = 0;
  /**
   * Whether the last view named every member's client address. Right after a cluster starts
   * some have not published theirs yet; until all have, the view is asked again (at most every
   * `INCOMPLETE_VIEW_RETRY_MS`), or a client given one endpoint would never learn the others
   * and could not fail over from it (found by the client's stream failover test).
   */
  private viewComplete = false;
  private discoveredAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly transport: Transport,
    endpoints: readonly string[],
    private readonly discoverTimeoutMs: number,
  ) {
    if (endpoints.length === 0) throw new QuorumClientError('invalid_config', 'at least one endpoint is needed');
    this.members = endpoints.map((e) => e.replace(/\/+$/, ''));
    this.scheme = new URL(this.members[0]).protocol === 'https:' ? 'https' : 'http';
  }

  /** Discovered members are reached the way the configured endpoints are (http or https). */
  private readonly scheme: 'http' | 'https';

  /** Every member known (configured and discovered). */
  all(): readonly string[] {
    return this.members;
  }

  /** Any member, in turn (stale reads). */
  any(): string {
    return this.members[this.next++ % this.members.length];
  }

  async leader(): Promise<string> {
    if (this.leaderOrigin && (this.viewComplete || performance.now() - this.discoveredAtMs < INCOMPLETE_VIEW_RETRY_MS)) return this.leaderOrigin;
    this.discovering ??= this.discover().finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  /** The leader may have changed (or `origin` is gone): look again on the next call. */
  forget(origin?: string): void {
    if (origin === undefined || origin === this.leaderOrigin) this.leaderOrigin = undefined;
  }

  private async discover(): Promise<string> {
    let last: unknown;
    for (let i = 0; i < this.members.length; i++) {
      const origin = this.any();
      try {
        const res = await this.transport.request(origin, { method: 'GET', path: '/v1/cluster', timeoutMs: this.discoverTimeoutMs });
        // A missing or refused token fails the call as the server said (retrying changes nothing).
        if (res.status === 401 || res.status === 403) throw answerError(res.status, res.body, undefined);
        if (res.status !== 200) continue;
        const view = JSON.parse(res.body.toString('utf8')) as ClusterView;
        this.discoveredAtMs = performance.now();
        this.viewComplete = view.members.every((m) => m.client);
        const known = view.members.flatMap((m) => (m.client ? [`${this.scheme}://${m.client}`] : []));
        if (known.length > 0) this.members = [...new Set([...known, ...this.members])];
        const leader = view.members.find((m) => m.id === view.leader)?.client;
        if (leader) return (this.leaderOrigin = `${this.scheme}://${leader}`);
      } catch (err) {
        if (err instanceof QuorumClientError && (err.status === 401 || err.status === 403)) throw err;
        last = err;
      }
    }
    throw new QuorumClientError('unavailable', `no member named a leader${last ? ` (last error: ${(last as Error).message})` : ''}`);
  }
}
