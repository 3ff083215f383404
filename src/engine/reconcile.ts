/**
 * RecordReconciler: keeps execution records true to what the queue knows.
 * A worker that vanished (crashed, cut off) leaves its record `running`
 * while the queue, once the lease expires, finishes the job as dead or
 * cancelled; readers and sync waiters ask this module for the record as it
 * should read, and for the attempt list as it stands between the engine
 * writing a verdict and the worker closing the attempt.
 */
import type { RelayConfig } from '../config/index.ts';
import type { ExecutionAttempt, ExecutionError, ExecutionRecord } from '../domain/index.ts';
import { TERMINAL_STATUSES } from '../domain/index.ts';
import type { Completion, Queue } from '../queue/port.ts';
import type { ResultStorePort } from '../results/port.ts';
import type { ControlStore } from '../store/index.ts';
import type { ExecutionPreparer } from './prepare.ts';
import { abandonedAttempt, WORKER_LOST } from './retry.ts';

/** How long a stale-looking record's job is probed for a completion the queue already holds. */
const COMPLETION_PROBE_MS = 250;

export interface ReconcilerDeps {
  config: Readonly<RelayConfig>;
  queue: Queue;
  results: ResultStorePort;
  preparer: ExecutionPreparer;
  attempts?: Pick<ControlStore, 'recordAttempt' | 'listAttempts'>;
}

export class RecordReconciler {
  readonly #deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  /** The function's own wall clock for this record's version (manifest, else the default). */
  async functionTimeoutMs(record: ExecutionRecord): Promise<number> {
    const version = await this.#deps.preparer.version(record.rufid, record.version);
    const seconds =
      version.manifest.limits?.timeoutSeconds ?? this.#deps.config.execution.timeoutSeconds;
    return seconds * 1000;
  }

  /**
   * Every recorded attempt of an execution, oldest first (none without an
   * attempt log). The engine writes an attempt's verdict into the record a
   * moment before the worker closes the attempt; a reader in between sees
   * the open attempt with the verdict the record already holds.
   */
  async attempts(record: ExecutionRecord): Promise<ExecutionAttempt[]> {
    const attempts = (await this.#deps.attempts?.listAttempts(record.id)) ?? [];
    const last = attempts.at(-1);
    const settledRecord =
      record.status !== 'running' && record.status !== 'queued' && record.startedAt !== null;
    // An attempt opened after the record's attempt started is a newer one (a retry being claimed).
    if (
      !last ||
      last.status !== 'running' ||
      !settledRecord ||
      Date.parse(last.startedAt) > Date.parse(record.startedAt!)
    ) {
      return attempts;
    }
    const finishedAt = record.finishedAt;
    const durationMs =
      finishedAt === null ? null : Math.max(0, Date.parse(finishedAt) - Date.parse(last.startedAt));
    return [
      ...attempts.slice(0, -1),
      { ...last, status: record.status, error: record.error, finishedAt, durationMs },
    ];
  }

  /**
   * The record as it should read. A record still `running` long after its
   * attempt could have ended may belong to a worker that vanished: when the
   * queue has since finished the job (dead, or cancelled) the record is
   * corrected. Cheap for live records: only stale-looking ones are probed.
   */
  async reconcile(record: ExecutionRecord): Promise<ExecutionRecord> {
    if (record.status !== 'running' || record.startedAt === null) return record;
    const timeoutMs = await this.functionTimeoutMs(record);
    const leaseMs = this.#deps.config.queue.leaseSeconds * 1000;
    if (Date.parse(record.startedAt) + timeoutMs + leaseMs > Date.now()) return record;
    const completion = await this.#deps.queue.waitForCompletion(record.id, COMPLETION_PROBE_MS);
    return completion === null ? record : this.correct(record, completion);
  }

  /** Writes the end the queue reached (dead or cancelled) into a record no worker finished. */
  async correct(record: ExecutionRecord, completion: Completion): Promise<ExecutionRecord> {
    if (TERMINAL_STATUSES.has(record.status)) return record;
    if (completion.status !== 'dead' && completion.status !== 'cancelled') return record;
    // A completion from before a re-drive says nothing about the current drive.
    if (record.startedAt !== null && completion.finishedAt < Date.parse(record.startedAt))
      return record;
    const { results, attempts } = this.#deps;
    let lost = null;
    for (const a of (await attempts?.listAttempts(record.id)) ?? []) {
      if (a.status !== 'running') continue;
      lost = a;
      await attempts?.recordAttempt(record.id, abandonedAttempt(a));
    }
    const who = lost?.workerId ? `worker ${lost.workerId}` : 'its worker';
    const error: ExecutionError =
      completion.status === 'cancelled'
        ? {
            type: 'Cancelled',
            message: `Execution was cancelled; ${who} stopped before confirming it`,
          }
        : {
            type: WORKER_LOST,
            message: `${who} stopped renewing its lease during attempt ${record.attempt} (crashed or cut off) and no attempts are left`,
          };
    const finishedAt = new Date(completion.finishedAt).toISOString();
    await results.update(record.id, { status: completion.status, error, finishedAt });
    await results.appendLogs(record.id, [
      { stream: 'system', time: new Date().toISOString(), line: `[relay] ${error.message}` },
    ]);
    return { ...record, status: completion.status, error, finishedAt };
  }
}
