export * from './types';
export { Raft } from './raft';
export { ProgressState } from './progress';
export { RawNode, ProposalDroppedError, sendableBeforePersist } from './rawnode';
export type { Config } from './config';
export { MemoryStorage, StorageError, type Storage } from './storage';
export { mulberry32, type Random } from './random';
export { InvariantError } from './assert';
