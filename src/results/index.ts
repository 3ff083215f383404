/** Execution records and logs: the ResultStore port, its default sink, retention. */
export type { ResultStorePort, ResultSink } from './port.ts';
export { StoreResultStore } from './store-sink.ts';
export type { StoreResultStoreOptions } from './store-sink.ts';
export { startRetentionSweeper } from './retention.ts';
export type { RetentionSweeper } from './retention.ts';
