/**
 * The library entry of the `quorumkv` package: run a node in-process and reach its storage.
 * Most users run the `quorumkv` command instead (README); see ARCHITECTURE.md for the rooms.
 */
export { RaftNode, type RaftNodeConfig, type NodeStatus } from './node/raft_node';
export { startApiServer, type ApiServer } from './api/server';
export type { ApiContext } from './api/context';
export { Engine, Wal, type WalOptions, type EngineOp } from './native';
export { ERROR_CATALOGUE, type ErrorClass, type ErrorCode, NativeError, QuorumError, TimeoutError, UnavailableError } from './errors';
export { type PeerAddress, parsePeerAddress } from './transport/peer';
