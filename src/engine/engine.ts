/**
 * ExecutionEngine: runs one attempt of one execution through the seed's
 * lifecycle — pre (manifest, secrets, dependencies, sandbox), execution
 * (invoke, stream logs, watch resources), post (persist, observe) — and
 * always ends in finalizeExecution, whatever happened on the way.
 */
import { context as otelContext, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import type { RelayConfig } from '../config/index.ts';
import type { ExecutionError, ExecutionRecord, ExecutionStatus } from '../domain/index.ts';
import { isRelayError } from '../domain/index.ts';
import type { ResultStorePort } from '../results/port.ts';
import { finalizeExecution, RunState } from './finalize.ts';
import { LogCollector } from './log-collector.ts';
import { verdictFor } from './outcome.ts';
import type { Verdict } from './outcome.ts';
import type { ExecutionPreparer } from './prepare.ts';
import { Slots } from './slots.ts';
import type { ExecutionJob, ExecutionObserver, LifecycleHook, SandboxPool } from './types.ts';

export interface EngineDeps {
  config: Readonly<RelayConfig>;
  preparer: ExecutionPreparer;
  pool: SandboxPool;
  results: ResultStorePort;
  observers?: ExecutionObserver[];
  hooks?: LifecycleHook[];
  tracer?: Tracer;
  onInternalError?: (err: unknown, where: string) => void;
}

/** A failure of the platform's own steps, reported to the user with a precise type. */
export class ExecutionFailure extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

export class ExecutionEngine {
  readonly slots: Slots;
  readonly #deps: EngineDeps;
  readonly #hooks: LifecycleHook[];
  readonly #tracer: Tracer;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.slots = new Slots(deps.config.execution.concurrency);
    this.#hooks = [...(deps.hooks ?? [])];
    this.#tracer = deps.tracer ?? trace.getTracer('relay');
  }

  /** Adds a lifecycle hook (runs after those already registered). */
  use(hook: LifecycleHook): void {
    this.#hooks.push(hook);
  }

  /**
   * Runs one attempt; resolves with the persisted record, never rejects for
   * function failures. `persist` is asked at the end which status to record
   * for the verdict (`queued` when the worker will retry), or null when the
   * verdict is no longer this attempt's to write (a worker that lost its
   * lease must not overwrite the attempt that replaced it).
   */
  async run(
    job: ExecutionJob,
    signal?: AbortSignal,
    persist: (verdict: Verdict) => ExecutionStatus | null = (verdict) => verdict.status,
  ): Promise<ExecutionRecord> {
    await this.slots.acquire(signal);
    const parent = job.traceparent
      ? propagation.extract(otelContext.active(), { traceparent: job.traceparent })
      : otelContext.active();
    const span = this.#tracer.startSpan(
      'relay.execution',
      {
        attributes: {
          'relay.execution_id': job.executionId,
          'relay.tenant': job.tenantId,
          'relay.rufid': job.rufid,
          'relay.version': job.version,
          'relay.branch': job.branch,
          'relay.attempt': job.attempt,
        },
      },
      parent,
    );
    const state = new RunState(job, this.#collector(job));
    try {
      await this.#execute(state, signal);
    } catch (err) {
      state.fail(this.#errorFor(err, signal));
    } finally {
      span.setAttribute('relay.status', state.verdict.status);
      if (state.verdict.status !== 'succeeded') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    return finalizeExecution(state, {
      pool: this.#deps.pool,
      slots: this.slots,
      results: this.#deps.results,
      observers: this.#deps.observers ?? [],
      onError: this.#deps.onInternalError ?? (() => {}),
      persist,
    });
  }

  async #execute(state: RunState, signal: AbortSignal | undefined): Promise<void> {
    const { job, ctx } = state;
    const { preparer, pool, results } = this.#deps;
    await results.update(job.executionId, {
      status: 'running',
      startedAt: new Date().toISOString(),
      attempt: job.attempt,
    });
    const tenant = await preparer.tenant(job.tenantId);
    const version = await preparer.version(job.rufid, job.version);
    ctx.tenant = tenant;
    ctx.version = version;
    state.runtime = version.manifest.runtime;
    if (version.build.status === 'failed') {
      throw new ExecutionFailure(
        'DependencyInstallFailed',
        `dependencies of version ${version.version} failed to install:\n${version.build.log}`,
      );
    }
    const prepared = await preparer.prepare(tenant, version, job.branch);
    state.prepared = prepared;
    ctx.spec = prepared.spec;
    state.collector.setRedactor(prepared.redact);
    for (const hook of this.#hooks) {
      if (hook.pre) await runHook(hook, 'pre', () => hook.pre?.(ctx));
    }
    signal?.throwIfAborted();
    const { sandbox, warm } = await pool.acquire(prepared.spec);
    state.sandbox = sandbox;
    state.usage.coldStart = !warm;
    state.markPrepared();
    const limits = prepared.limits;
    const timeoutMs = Math.round(limits.timeoutSeconds * 1000);
    const result = await sandbox.invoke(
      {
        id: job.executionId,
        input: job.input,
        context: {
          executionId: job.executionId,
          tenantId: job.tenantId,
          rufid: job.rufid,
          functionName: job.rufid,
          version: job.version,
          branch: job.branch,
          memoryLimitMb: limits.memoryMb,
          deadlineMs: Date.now() + timeoutMs,
        },
      },
      { timeoutMs, onLog: (stream, line) => state.collector.add(stream, line), signal },
    );
    ctx.outcome = result.outcome;
    state.recordInvocation(result, limits.memoryMb);
    const verdict = verdictFor(result.outcome, limits);
    ctx.status = verdict.status;
    ctx.output = verdict.output;
    ctx.error = verdict.error;
    for (const hook of this.#hooks) {
      if (hook.post) await runHook(hook, 'post', () => hook.post?.(ctx));
    }
    state.verdict = { status: ctx.status, output: ctx.output, error: ctx.error ?? null };
  }

  #collector(job: ExecutionJob): LogCollector {
    const { results, config } = this.#deps;
    return new LogCollector({
      maxBytes: config.execution.maxLogBytes,
      flush: (lines) => results.appendLogs(job.executionId, lines),
      onFlushError: (err) => this.#deps.onInternalError?.(err, 'logs'),
    });
  }

  #errorFor(
    err: unknown,
    signal: AbortSignal | undefined,
  ): { cancelled: boolean; error: ExecutionError } {
    if (signal?.aborted) {
      return { cancelled: true, error: { type: 'Cancelled', message: 'Execution was cancelled' } };
    }
    if (err instanceof ExecutionFailure) {
      return { cancelled: false, error: { type: err.type, message: err.message } };
    }
    if (isRelayError(err)) {
      return { cancelled: false, error: { type: pascalCase(err.code), message: err.message } };
    }
    this.#deps.onInternalError?.(err, 'execute');
    const message = err instanceof Error ? err.message : String(err);
    return { cancelled: false, error: { type: 'InternalError', message } };
  }
}

async function runHook(hook: LifecycleHook, phase: string, call: () => unknown): Promise<void> {
  try {
    await call();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ExecutionFailure(
      'HookFailed',
      `${phase}-execution hook ${hook.name} failed: ${message}`,
    );
  }
}

/** SECRET_NOT_FOUND → SecretNotFound: error codes read as error types. */
function pascalCase(code: string): string {
  return code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
