/**
 * ExecutionService: the front door of execution. It checks the request
 * (input size, priority cap, idempotency), records the execution, hands it
 * to the queue — sync calls too, at high priority — and for sync callers
 * waits on the queue's completion signal, bounded by the function's timeout
 * plus a margin for sandbox preparation. Records the queue finished
 * without a worker are corrected by the RecordReconciler (reconcile.ts).
 */
import type { RelayConfig } from '../config/index.ts';
import type { ExecutionAttempt, ExecutionRecord, Tenant } from '../domain/index.ts';
import { newExecutionId, RelayError, TERMINAL_STATUSES } from '../domain/index.ts';
import type { NewJob, Queue } from '../queue/port.ts';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, MAX_PRIORITY } from '../queue/port.ts';
import type { ResultStorePort } from '../results/port.ts';
import type { ControlStore } from '../store/index.ts';
import { IDEMPOTENCY_WINDOW_MS, isIdempotencyKeyTaken } from '../store/index.ts';
import type { ExecutionPreparer } from './prepare.ts';
import { RecordReconciler } from './reconcile.ts';

/** What a job carries through the queue; the input stays in the record when it is large. */
export interface ExecutionPayload {
  rufid: string;
  version: number;
  branch: string;
  sync: boolean;
  input?: unknown;
  /** Attempts made before a re-drive, so attempt numbers continue instead of starting over. */
  attemptBase?: number;
}

/** Inputs up to this size travel in the queue; larger ones are read from the record. */
const INLINE_INPUT_BYTES = 64 * 1024;
/** Sandbox start and dependency checks on top of the function's own timeout. */
const SYNC_WAIT_MARGIN_MS = 30_000;

export interface SubmitRequest {
  tenant: Tenant;
  target: { rufid: string; branch: string; version: number };
  input: unknown;
  async: boolean;
  priority?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  traceparent?: string;
  /** Sync only: aborted when the caller goes away; the execution is then cancelled. */
  signal?: AbortSignal;
}

export interface SubmitResult {
  record: ExecutionRecord;
  /** True when an earlier execution with the same idempotency key was returned. */
  replayed: boolean;
  /** Sync only: false when the wait ended before the execution did. */
  finished: boolean;
}

export interface ExecutionServiceDeps {
  config: Readonly<RelayConfig>;
  queue: Queue;
  results: ResultStorePort;
  preparer: ExecutionPreparer;
  /** Where workers record attempts; lets a correction close the attempt a lost worker left open. */
  attempts?: Pick<ControlStore, 'recordAttempt' | 'listAttempts'>;
  /** Budget guardrails: refuses tenants over their monthly budget (429 BUDGET_EXCEEDED, nothing recorded). */
  budget?: { check(tenant: Tenant): Promise<void> };
}

export class ExecutionService {
  readonly #deps: ExecutionServiceDeps;
  /** Idempotency keys being submitted right now, so two racing requests create one execution. */
  readonly #inFlight = new Map<string, Promise<SubmitResult>>();

  readonly #reconciler: RecordReconciler;

  constructor(deps: ExecutionServiceDeps) {
    this.#deps = deps;
    this.#reconciler = new RecordReconciler(deps);
  }

  /** Records and enqueues an execution; sync requests resolve when it finishes. */
  submit(request: SubmitRequest): Promise<SubmitResult> {
    const key = request.idempotencyKey;
    if (key === undefined) return this.#submit(request);
    const slot = `${request.tenant.id}\u0000${key}`;
    const pending = this.#inFlight.get(slot);
    if (pending) return pending.then((r) => ({ ...r, replayed: true }));
    const started = this.#submit(request).finally(() => this.#inFlight.delete(slot));
    this.#inFlight.set(slot, started);
    return started;
  }

  /** Puts a dead (or failed) execution back in the queue with fresh attempts. */
  async redrive(tenant: Tenant, id: string): Promise<ExecutionRecord> {
    const { results, queue } = this.#deps;
    const record = await results.get(tenant.id, id);
    if (!record) throw new RelayError('EXECUTION_NOT_FOUND', `execution ${id} not found`);
    if (record.status !== 'dead' && record.status !== 'failed' && record.status !== 'timed_out') {
      throw new RelayError(
        'INVALID_STATE',
        `execution ${id} is ${record.status}; only dead, failed or timed out executions can be retried`,
      );
    }
    const previous =
      (await this.#deps.attempts?.listAttempts(id))?.at(-1)?.attempt ?? record.attempt;
    await results.update(id, {
      status: 'queued',
      output: null,
      error: null,
      attempt: 0,
      finishedAt: null,
      startedAt: null,
    });
    await results.appendLogs(id, [
      {
        stream: 'system',
        time: new Date().toISOString(),
        line: '[relay] re-driven: queued again with fresh attempts',
      },
    ]);
    try {
      await queue.enqueue(this.#job(record, tenant, record.input, false, previous));
    } catch (err) {
      await results.update(id, {
        status: record.status,
        error: record.error,
        finishedAt: record.finishedAt,
      });
      throw err;
    }
    return {
      ...record,
      status: 'queued',
      output: null,
      error: null,
      attempt: 0,
      finishedAt: null,
      startedAt: null,
    };
  }

  /** Cancels a queued or running execution; returns the record as it stands. */
  async cancel(tenant: Tenant, id: string): Promise<ExecutionRecord> {
    const { results, queue } = this.#deps;
    const record = await results.get(tenant.id, id);
    if (!record) throw new RelayError('EXECUTION_NOT_FOUND', `execution ${id} not found`);
    if (TERMINAL_STATUSES.has(record.status)) {
      throw new RelayError('INVALID_STATE', `execution ${id} already finished as ${record.status}`);
    }
    const outcome = await queue.cancel(id);
    if (outcome === 'cancelled' || (outcome === 'unknown' && record.status === 'queued')) {
      // Removed before any worker held it: nobody else will write its end.
      const finishedAt = new Date().toISOString();
      const error = { type: 'Cancelled', message: 'Execution was cancelled before it started' };
      await results.update(id, { status: 'cancelled', error, finishedAt });
      return { ...record, status: 'cancelled', error, finishedAt };
    }
    return record;
  }

  async #submit(request: SubmitRequest): Promise<SubmitResult> {
    const { results } = this.#deps;
    const { tenant, idempotencyKey } = request;
    if (idempotencyKey !== undefined) {
      const since = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS).toISOString();
      const earlier = await results.findByIdempotencyKey(tenant.id, idempotencyKey, since);
      if (earlier) return this.#replay(earlier, request);
    }
    await this.#deps.budget?.check(tenant);
    const inputBytes = Buffer.byteLength(JSON.stringify(request.input ?? null));
    const maxInput = this.#deps.config.execution.maxInputBytes;
    if (inputBytes > maxInput) {
      throw new RelayError(
        'PAYLOAD_TOO_LARGE',
        `input of ${inputBytes} bytes exceeds the limit of ${maxInput} bytes`,
      );
    }
    const priority = this.#priority(request);
    const version = await this.#deps.preparer.version(request.target.rufid, request.target.version);
    const maxAttempts = request.async
      ? (request.maxAttempts ?? version.manifest.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)
      : 1;
    const now = Date.now();
    const record: ExecutionRecord = {
      id: newExecutionId(now),
      tenantId: tenant.id,
      rufid: request.target.rufid,
      version: request.target.version,
      branch: request.target.branch,
      status: 'queued',
      input: request.input ?? null,
      output: null,
      error: null,
      timings: {},
      usage: {},
      cost: 0,
      attempt: 0,
      maxAttempts,
      priority,
      async: request.async,
      idempotencyKey: idempotencyKey ?? null,
      traceparent: request.traceparent ?? null,
      createdAt: new Date(now).toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    try {
      await results.create(record);
    } catch (err) {
      // Another process took the key between our lookup and insert: answer with its execution.
      if (idempotencyKey === undefined || !isIdempotencyKeyTaken(err)) throw err;
      const since = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS).toISOString();
      const winner = await results.findByIdempotencyKey(tenant.id, idempotencyKey, since);
      if (!winner) throw err;
      return this.#replay(winner, request);
    }
    await this.#admit(record, tenant, request.async, inputBytes);
    if (request.async) return { record, replayed: false, finished: false };
    return this.#awaitSync(record, request.signal);
  }

  /**
   * Hands a recorded execution to the queue. A full queue leaves it
   * `rejected` (it was never queued) and the caller gets the 429.
   */
  async #admit(
    record: ExecutionRecord,
    tenant: Tenant,
    isAsync: boolean,
    inputBytes?: number,
  ): Promise<void> {
    const { results } = this.#deps;
    const inline =
      (inputBytes ?? Buffer.byteLength(JSON.stringify(record.input))) <= INLINE_INPUT_BYTES;
    try {
      await this.#deps.queue.enqueue(
        this.#job(record, tenant, inline ? record.input : undefined, !isAsync),
      );
    } catch (err) {
      // Only a re-admission can meet its own job: a racing replay already queued it.
      if (err instanceof RelayError && err.code === 'CONFLICT') return;
      if (err instanceof RelayError && err.code === 'QUEUE_FULL') {
        const error = { type: 'QueueFull', message: err.message };
        await results.update(record.id, {
          status: 'rejected',
          error,
          finishedAt: new Date().toISOString(),
        });
      } else {
        await results.update(record.id, {
          status: 'failed',
          error: { type: 'InternalError', message: 'could not enqueue the execution' },
          finishedAt: new Date().toISOString(),
        });
      }
      throw err;
    }
  }

  async #replay(earlier: ExecutionRecord, request: SubmitRequest): Promise<SubmitResult> {
    if (earlier.status === 'rejected') {
      // A 429 tells the caller to come back later; coming back with the same
      // key must try again, not replay the refusal for a day.
      const again: ExecutionRecord = {
        ...earlier,
        status: 'queued',
        error: null,
        finishedAt: null,
      };
      await this.#deps.results.update(earlier.id, {
        status: 'queued',
        error: null,
        finishedAt: null,
      });
      await this.#admit(again, request.tenant, earlier.async);
      if (earlier.async) return { record: again, replayed: true, finished: false };
      return { ...(await this.#awaitSync(again, request.signal)), replayed: true };
    }
    if (request.async || TERMINAL_STATUSES.has(earlier.status)) {
      return { record: earlier, replayed: true, finished: TERMINAL_STATUSES.has(earlier.status) };
    }
    const result = await this.#awaitSync(earlier, request.signal, false);
    return { ...result, replayed: true };
  }

  async #awaitSync(
    record: ExecutionRecord,
    signal: AbortSignal | undefined,
    cancelOnAbort = true,
  ): Promise<SubmitResult> {
    const { queue, results } = this.#deps;
    const timeoutMs = await this.#reconciler.functionTimeoutMs(record);
    const onAbort = () => {
      if (cancelOnAbort) void queue.cancel(record.id).catch(() => {});
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const completion = await queue.waitForCompletion(record.id, timeoutMs + SYNC_WAIT_MARGIN_MS);
      let latest = (await results.get(record.tenantId, record.id)) ?? record;
      if (completion !== null) latest = await this.#reconciler.correct(latest, completion);
      return {
        record: latest,
        replayed: false,
        finished: completion !== null && TERMINAL_STATUSES.has(latest.status),
      };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Every recorded attempt of an execution, oldest first (see RecordReconciler.attempts). */
  attempts(record: ExecutionRecord): Promise<ExecutionAttempt[]> {
    return this.#reconciler.attempts(record);
  }

  /** The record as it should read, corrected if a vanished worker left it running. */
  reconcile(record: ExecutionRecord): Promise<ExecutionRecord> {
    return this.#reconciler.reconcile(record);
  }

  #job(
    record: ExecutionRecord,
    tenant: Tenant,
    input: unknown,
    sync: boolean,
    attemptBase = 0,
  ): NewJob {
    const payload: ExecutionPayload = {
      rufid: record.rufid,
      version: record.version,
      branch: record.branch,
      sync,
    };
    if (input !== undefined) payload.input = input;
    if (attemptBase > 0) payload.attemptBase = attemptBase;
    return {
      id: record.id,
      tenantId: tenant.id,
      priority: record.priority,
      maxAttempts: record.maxAttempts,
      payload,
      traceparent: record.traceparent,
      limits: { concurrency: tenant.limits.maxConcurrency, maxQueued: tenant.limits.maxQueued },
    };
  }

  #priority(request: SubmitRequest): number {
    const cap = Math.min(MAX_PRIORITY, request.tenant.limits.maxPriority);
    if (request.priority === undefined) {
      // Sync callers are waiting on the line: they go first within the tenant's cap.
      return request.async ? Math.min(DEFAULT_PRIORITY, cap) : cap;
    }
    if (request.priority > cap) {
      throw new RelayError(
        'LIMIT_EXCEEDS_CAP',
        `priority ${request.priority} exceeds this tenant's cap of ${cap}`,
      );
    }
    return request.priority;
  }
}
