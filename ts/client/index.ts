/** `quorumkv/client`: the Node client library. */
export { QuorumClient, type ClientOptions, type KeyRange, type KeyValue, type ReadOptions, type WriteOptions, type PutOptions, type IncrOptions, type CallOptions, type TxnSpec, type TxnResult, type TxnOp, type IngestAnswer } from './client';
export type { WatchEvent, WatchKeys, WatchOptions, MarketLine, MarketStreamOptions, ReplaySpec } from './streams';
export type { Bar, BarsOptions, InstrumentBars, InstrumentInfo, MidBar, PrevailingTop, Book, BookLevel, BookOptions, Feeds, StoredEvent, TicksOptions, TopOfBook, TopOptions, Vwap } from './market_reads';
export { QuorumClientError } from './errors';
export type { Lock, LockOptions } from './lock';
export { RETRY_DEFAULTS, type RetryPolicy } from './retry';
export type { ClientTls } from './transport';
