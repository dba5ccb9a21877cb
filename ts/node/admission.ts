/**
 * Admission: whether a request may enter the node at all, decided before anything is
 * proposed or queued — so a refused request is known not to be applied (503, retryable).
 * One rule for every kind of request; the order of the checks is the order of their causes.
 */
import { UnavailableError } from '../errors';

export interface AdmissionState {
  /** `write`: proposals and membership changes; `read`: ReadIndex; `control`: transfers. */
  kind: 'write' | 'read' | 'control';
  /** The node's storage failed: it is about to exit. */
  fatal: Error | undefined;
  stopped: boolean;
  removed: boolean;
  /** The applier is behind by more than its limit. */
  applyOverloaded: boolean;
  /** Why a proposal cannot be queued (pending or per-turn limits), if it cannot. */
  proposals: () => Error | undefined;
  /** Why a read cannot be queued, if it cannot. */
  reads: () => Error | undefined;
}

export function admissionError(s: AdmissionState): Error | undefined {
  if (s.fatal) {
    // Never proposed, so known not applied; the process is about to exit: retry elsewhere.
    const code = (s.fatal as Error & { code?: string }).code ?? s.fatal.message;
    return new UnavailableError(`the node stopped after a storage failure (${code}); retry on another node`);
  }
  if (s.removed) return new UnavailableError('this node was removed from the cluster; retry on a member');
  if (s.stopped) return new UnavailableError('node is shutting down');
  if (s.kind === 'write') {
    if (s.applyOverloaded) return new UnavailableError('the state machine is behind the log by more than its limit; retry', 'overloaded');
    return s.proposals();
  }
  if (s.kind === 'read') return s.reads();
  return undefined;
}
