/**
 * The default ResultStore: execution records and logs in the control-plane
 * store, with any number of secondary sinks told about finished records.
 * A sink that fails is logged and never changes the execution's outcome.
 */
import type { ExecutionRecord, LogLine } from '../domain/index.ts';
import type { ControlStore, ExecutionFilter, ExecutionPatch, NewLogLine } from '../store/port.ts';
import type { ResultSink, ResultStorePort } from './port.ts';

export interface StoreResultStoreOptions {
  sinks?: ResultSink[];
  onSinkError?: (sink: string, err: unknown) => void;
}

export class StoreResultStore implements ResultStorePort {
  readonly #store: ControlStore;
  readonly #sinks: ResultSink[];
  readonly #onSinkError: (sink: string, err: unknown) => void;

  constructor(store: ControlStore, options: StoreResultStoreOptions = {}) {
    this.#store = store;
    this.#sinks = options.sinks ?? [];
    this.#onSinkError = options.onSinkError ?? (() => {});
  }

  create(record: ExecutionRecord): Promise<void> {
    return this.#store.insertExecution(record);
  }

  update(id: string, patch: ExecutionPatch): Promise<void> {
    return this.#store.updateExecution(id, patch);
  }

  appendLogs(id: string, lines: NewLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return this.#store.appendLogs(id, lines);
  }

  get(tenantId: string | null, id: string): Promise<ExecutionRecord | null> {
    return this.#store.getExecution(tenantId, id);
  }

  logs(id: string, afterSeq?: number): Promise<LogLine[]> {
    return this.#store.getLogs(id, afterSeq);
  }

  list(filter: ExecutionFilter): Promise<ExecutionRecord[]> {
    return this.#store.listExecutions(filter);
  }

  findByIdempotencyKey(tenantId: string, key: string, since: string) {
    return this.#store.findExecutionByIdempotencyKey(tenantId, key, since);
  }

  sweep(before: string): Promise<number> {
    return this.#store.deleteExecutionsBefore(before);
  }

  async finished(record: ExecutionRecord): Promise<void> {
    if (this.#sinks.length === 0) return;
    await Promise.all(
      this.#sinks.map((sink) =>
        sink.finished(record).catch((err: unknown) => this.#onSinkError(sink.name, err)),
      ),
    );
  }
}
