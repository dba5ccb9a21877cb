/**
 * The core behind a RawNode, for the core's own tests, the simulator's checks and the core
 * benchmark only: they inspect state the driver may not reach (the driver uses `status()`).
 */
import type { Raft } from '../../ts/raft/raft';
import type { RawNode } from '../../ts/raft/rawnode';

export const coreOf = (raw: RawNode): Raft => (raw as unknown as { raft: Raft }).raft;
