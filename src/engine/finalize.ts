/**
 * finalizeExecution (the seed's `_finalize_execution`): runs on every path
 * out of an execution — success, handler error, timeout, memory, crash, a
 * hook that threw, a cancelled or vanished caller — and always releases the
 * sandbox (back to the pool or destroyed), the dependency set and the
 * concurrency slot, then persists the verdict. Each step is guarded so one
 * failing step never skips the others.
 */
import { TERMINAL_STATUSES } from '../domain/index.ts';
import type {
  ExecutionError,
  ExecutionRecord,
  ExecutionStatus,
  ExecutionTimings,
  ExecutionUsage,
} from '../domain/index.ts';
import type { ResultStorePort } from '../results/port.ts';
import type { InvokeResult, Sandbox } from '../sandbox/port.ts';
import { executionCost } from './cost.ts';
import type { LogCollector } from './log-collector.ts';
import type { Verdict } from './outcome.ts';
import type { PreparedExecution } from './prepare.ts';
import type { Slots } from './slots.ts';
import type { ExecutionContext, ExecutionJob, ExecutionObserver, SandboxPool } from './types.ts';

/** Everything one run holds that finalizeExecution must release or persist. */
export class RunState {
  readonly job: ExecutionJob;
  readonly collector: LogCollector;
  readonly ctx: ExecutionContext;
  readonly startedAt = performance.now();
  readonly timings: ExecutionTimings;
  readonly usage: ExecutionUsage = {};
  prepared: PreparedExecution | undefined;
  sandbox: Sandbox | undefined;
  runtime = 'unknown';
  cost = 0;
  verdict: Verdict = {
    status: 'failed',
    output: null,
    error: { type: 'InternalError', message: 'execution ended without a verdict' },
  };

  constructor(job: ExecutionJob, collector: LogCollector) {
    this.job = job;
    this.collector = collector;
    this.timings = { queueMs: Math.max(0, Date.now() - job.enqueuedAt) };
    this.ctx = {
      job,
      attributes: new Map(),
      log: (stream, line) => collector.add(stream, line),
    };
  }

  markPrepared(): void {
    this.timings.prepMs = round(performance.now() - this.startedAt);
  }

  recordInvocation(result: InvokeResult, memoryMb: number): void {
    this.timings.runMs = round(result.durationMs);
    if (result.usage.cpuMs !== undefined) this.usage.cpuMs = round(result.usage.cpuMs);
    if (result.usage.peakMemoryBytes !== undefined) {
      this.usage.peakMemoryBytes = result.usage.peakMemoryBytes;
    }
    this.cost = executionCost(memoryMb, result.durationMs);
  }

  fail(failure: { cancelled: boolean; error: ExecutionError }): void {
    this.verdict = {
      status: failure.cancelled ? 'cancelled' : 'failed',
      output: null,
      error: failure.error,
    };
  }
}

export interface FinalizeDeps {
  pool: SandboxPool;
  slots: Slots;
  results: ResultStorePort;
  observers: ExecutionObserver[];
  onError: (err: unknown, where: string) => void;
  /**
   * The status to record for this verdict — usually its own; `queued` when
   * the attempt will be retried, so readers never see a failure that is not
   * final — or null when another attempt now owns the record: release
   * everything, write nothing.
   */
  persist: (verdict: Verdict) => ExecutionStatus | null;
}

/** Releases everything the run held and persists its verdict; returns the stored record. */
export async function finalizeExecution(
  state: RunState,
  deps: FinalizeDeps,
): Promise<ExecutionRecord> {
  const { job } = state;
  await guard(deps, 'sandbox', async () => {
    if (state.sandbox) await deps.pool.release(state.sandbox);
  });
  await guard(deps, 'dependencies', () => state.prepared?.deps?.release());
  deps.slots.release();
  state.timings.totalMs = round(performance.now() - state.startedAt + (state.timings.queueMs ?? 0));
  await guard(deps, 'logs', () => state.collector.close());
  const status = deps.persist(state.verdict);
  if (status === null) return fallbackRecord(state);
  const { output, error } = state.verdict;
  await guard(deps, 'persist', () =>
    deps.results.update(job.executionId, {
      status,
      output: output ?? null,
      error,
      timings: state.timings,
      usage: state.usage,
      cost: state.cost,
      finishedAt: TERMINAL_STATUSES.has(status) ? new Date().toISOString() : null,
    }),
  );
  const record = (await deps.results.get(null, job.executionId)) ?? fallbackRecord(state);
  await guard(deps, 'sinks', () => deps.results.finished(record));
  for (const observer of deps.observers) {
    await guard(deps, 'observe', () => observer.executionFinished(record, state.runtime));
  }
  return record;
}

async function guard(deps: FinalizeDeps, where: string, step: () => unknown): Promise<void> {
  try {
    await step();
  } catch (err) {
    deps.onError(err, `finalize:${where}`);
  }
}

/** What the caller sees if even the store could not be read back. */
function fallbackRecord(state: RunState): ExecutionRecord {
  const { job, verdict } = state;
  return {
    id: job.executionId,
    tenantId: job.tenantId,
    rufid: job.rufid,
    version: job.version,
    branch: job.branch,
    status: verdict.status,
    input: job.input,
    output: verdict.output,
    error: verdict.error,
    timings: state.timings,
    usage: state.usage,
    cost: state.cost,
    attempt: job.attempt,
    maxAttempts: job.attempt,
    priority: 0,
    async: false,
    idempotencyKey: null,
    traceparent: job.traceparent ?? null,
    createdAt: new Date(job.enqueuedAt).toISOString(),
    startedAt: null,
    finishedAt: new Date().toISOString(),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
