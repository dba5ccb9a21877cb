/**
 * One call, retried: a request goes to the router's choice; retryable failures — 503
 * (`unavailable`, `overloaded`, a dropped proposal), 429 `throttled` (after its Retry-After),
 * a connection lost before an answer, one attempt's timeout — are tried again with exponential
 * backoff and full jitter, up to `attempts` sends and the call's deadline. Only calls that are
 * safe to repeat come here: reads, and writes carrying an idempotency key.
 */
import { answerError, QuorumClientError } from './errors';
import type { Router } from './router';
import type { HttpAnswer, HttpRequest, Transport } from './transport';

export interface RetryPolicy {
  /** Sends at most, first one included. */
  attempts: number;
  /** The first backoff (doubled per retry, capped at `backoffMaxMs`), before jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** One send's longest wait for its answer (a hung node is left for another). */
  attemptTimeoutMs: number;
}

/**
 * 30 sends: the waits add up to ~10 s on average, so the call's deadline (default 10 s) is what
 * ends a long outage. With 10, a write made as its leader was killed ran out of sends in ~1.6 s
 * of backoff (found by the watch failover test): shorter than an election under load here.
 */
export const RETRY_DEFAULTS: RetryPolicy = { attempts: 30, backoffBaseMs: 10, backoffMaxMs: 1000, attemptTimeoutMs: 2000 };

// (Data writes carry their exactly-once identity: a retry of one that did apply gets
// its first answer. `leader_changed`: the leader a write went to lost its leadership first.)
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['unavailable', 'overloaded', 'throttled', 'PROPOSAL_DROPPED', 'connection_lost', 'timeout', 'leader_changed']);
/** Codes after which the leader must be looked up again. */
export const REROUTE_CODES: ReadonlySet<string> = new Set(['unavailable', 'PROPOSAL_DROPPED', 'connection_lost', 'timeout', 'leader_changed']);

export interface Sent<T> {
  value: T;
  /** How many requests were sent (1: the answer is to the first). */
  sends: number;
}

export interface CallSpec<T> {
  to: 'leader' | 'any';
  request: Omit<HttpRequest, 'timeoutMs' | 'signal'>;
  /** The value of a 2xx answer. */
  read: (answer: HttpAnswer) => T;
  deadlineMs: number;
  signal?: AbortSignal;
}

export const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new QuorumClientError('aborted', 'the call was aborted'));
    };
    // The listener goes with the wait (a long-lived signal sees many waits).
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Full jitter over an exponential ceiling: the wait before send `sends + 1`. */
export function backoffMs(policy: RetryPolicy, sends: number): number {
  return Math.random() * Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (sends - 1));
}

export async function callWithRetries<T>(transport: Transport, router: Router, policy: RetryPolicy, spec: CallSpec<T>): Promise<Sent<T>> {
  const deadline = performance.now() + spec.deadlineMs;
  let last: QuorumClientError | undefined;
  for (let sends = 1; sends <= policy.attempts; sends++) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    let origin: string | undefined;
    try {
      origin = spec.to === 'leader' ? await router.leader() : router.any();
      const answer = await transport.request(origin, { ...spec.request, timeoutMs: Math.min(left, policy.attemptTimeoutMs), signal: spec.signal });
      if (answer.status < 300) return { value: spec.read(answer), sends };
      last = answerError(answer.status, answer.body, answer.headers['retry-after']);
    } catch (err) {
      if (!(err instanceof QuorumClientError)) throw err;
      err.sends = sends;
      if (err.code === 'aborted') throw err;
      last = err;
    }
    last.sends = sends;
    if (!RETRYABLE_CODES.has(last.code)) throw last;
    if (REROUTE_CODES.has(last.code)) router.forget(origin);
    const backoff = backoffMs(policy, sends);
    const wait = Math.max(backoff, last.retryAfterMs ?? 0);
    if (performance.now() + wait >= deadline) break;
    await pause(wait, spec.signal);
  }
  if (last && performance.now() < deadline) throw last;
  throw Object.assign(new QuorumClientError('timeout', `no answer within the call's deadline (${spec.deadlineMs} ms)${last ? `; last: ${last.code}: ${last.message}` : ''}`, 0, last ? { last: last.code } : {}), { sends: last?.sends ?? 0 });
}
