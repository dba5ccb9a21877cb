/**
 * Raft's values and messages, named as in etcd-io/raft (raftpb) so both can be read side by side.
 * Node ids are positive integers; 0 (`NONE`) means "nobody".
 */

export const NONE = 0;

export enum EntryType {
  Normal = 0,
  /** A single-server membership change (`ConfChange` encoded in `data`). */
  ConfChange = 1,
}

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** Persisted before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export enum CampaignType {
  PreElection = 'pre-election',
  Election = 'election',
  Transfer = 'transfer',
}

export enum StateType {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

/** Volatile state, reported in `Ready` when it changes; never persisted. */
export interface SoftState {
  lead: number;
  state: StateType;
}

export interface ConfState {
  voters: number[];
  learners: number[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** Opaque to the core: the driver puts the state-machine image (or a reference to it) here. */
  data: Uint8Array;
}

export enum ConfChangeType {
  AddNode = 'add-node',
  AddLearnerNode = 'add-learner',
  RemoveNode = 'remove-node',
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  /** Opaque to the core (e.g. the new member's addresses). */
  context?: Uint8Array;
}

export enum MessageType {
  /** Local: start an election. */
  Hup = 'MsgHup',
  /** Local: leader should broadcast heartbeats. */
  Beat = 'MsgBeat',
  Prop = 'MsgProp',
  App = 'MsgApp',
  AppResp = 'MsgAppResp',
  Vote = 'MsgVote',
  VoteResp = 'MsgVoteResp',
  PreVote = 'MsgPreVote',
  PreVoteResp = 'MsgPreVoteResp',
  Snap = 'MsgSnap',
  Heartbeat = 'MsgHeartbeat',
  HeartbeatResp = 'MsgHeartbeatResp',
  /** Local: the transport could not reach `from`. */
  Unreachable = 'MsgUnreachable',
  /** Local: how sending a snapshot to `from` ended (`reject` = failed). */
  SnapStatus = 'MsgSnapStatus',
  /** Local: leader checks it heard from a quorum within an election timeout. */
  CheckQuorum = 'MsgCheckQuorum',
  TransferLeader = 'MsgTransferLeader',
  TimeoutNow = 'MsgTimeoutNow',
  ReadIndex = 'MsgReadIndex',
  ReadIndexResp = 'MsgReadIndexResp',
  /**
   * Not a Raft message: a member tells `to` that it was removed from the cluster at `index`.
   * The node driver sends and handles it; it is never stepped into the core.
   */
  Removed = 'MsgRemoved',
}

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** MsgApp: term of the entry at `index`; rejections: term hint. */
  logTerm: number;
  /** MsgApp: index preceding `entries`; MsgAppResp: last matching (or rejected) index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  /** ReadIndex request context, echoed on heartbeats and responses. */
  context?: Uint8Array;
  snapshot?: Snapshot;
}

/** A confirmed read: once `applied >= index`, reads tagged `requestCtx` may be served. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export interface Ready {
  softState?: SoftState;
  /** Persist (with `entries`) before sending `messages`, when set. */
  hardState?: HardState;
  readStates: ReadState[];
  /** Entries to persist. */
  entries: Entry[];
  /** A snapshot to persist and install. */
  snapshot?: Snapshot;
  /** Committed entries to apply (asynchronously is fine). */
  committedEntries: Entry[];
  /**
   * Messages to send once `entries`, `hardState` and `snapshot` are durable. A leader may
   * send MsgApp, MsgHeartbeat and MsgSnap before its own write completes (`sendableBeforePersist`).
   */
  messages: Message[];
  /** Whether `entries`/`hardState` need an fsync (false for commit-only hard-state changes). */
  mustSync: boolean;
}

export function message(fields: Partial<Message> & Pick<Message, 'type' | 'to' | 'from'>): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

export function isLocalMessage(type: MessageType): boolean {
  return (
    type === MessageType.Hup ||
    type === MessageType.Beat ||
    type === MessageType.Unreachable ||
    type === MessageType.SnapStatus ||
    type === MessageType.CheckQuorum
  );
}

export function isResponseMessage(type: MessageType): boolean {
  return (
    type === MessageType.AppResp ||
    type === MessageType.VoteResp ||
    type === MessageType.HeartbeatResp ||
    type === MessageType.Unreachable ||
    type === MessageType.PreVoteResp
  );
}

export function voteRespType(type: MessageType): MessageType {
  if (type === MessageType.Vote) return MessageType.VoteResp;
  if (type === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`not a vote message: ${type}`);
}

export function entryBytes(e: Entry): number {
  return e.data.length + 24;
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}
