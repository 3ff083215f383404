/**
 * ResultStorePort: where execution records and their logs are kept — the
 * seed's extension point for result sinks. The store-backed sink is the
 * default; extra sinks (a file, a webhook) receive every finished record.
 */
import type { ExecutionRecord, LogLine } from '../domain/index.ts';
import type { ExecutionFilter, ExecutionPatch, NewLogLine } from '../store/port.ts';

export interface ResultStorePort {
  create(record: ExecutionRecord): Promise<void>;
  update(id: string, patch: ExecutionPatch): Promise<void>;
  appendLogs(id: string, lines: NewLogLine[]): Promise<void>;
  /** Tenant-scoped; null tenant only from trusted internal paths. */
  get(tenantId: string | null, id: string): Promise<ExecutionRecord | null>;
  logs(id: string, afterSeq?: number): Promise<LogLine[]>;
  list(filter: ExecutionFilter): Promise<ExecutionRecord[]>;
  findByIdempotencyKey(
    tenantId: string,
    key: string,
    since: string,
  ): Promise<ExecutionRecord | null>;
  /** Deletes finished records older than `before`; returns how many. */
  sweep(before: string): Promise<number>;
  /** Called once per execution when it reaches a terminal status. */
  finished(record: ExecutionRecord): Promise<void>;
}

/** A secondary sink: sees each finished execution, never blocks the caller's result. */
export interface ResultSink {
  readonly name: string;
  finished(record: ExecutionRecord): Promise<void>;
}
