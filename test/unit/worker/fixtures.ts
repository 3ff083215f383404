/**
 * What the worker tests share: an embedded store and queue (SQLite in
 * memory, the real adapters), a tenant, executions recorded and queued as
 * the ExecutionService does, and a scripted engine that behaves like the
 * real one towards the worker (slots, `running` on start, the verdict
 * written only when persist() allows) while the test decides how each
 * attempt ends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../../src/config/index.ts';
import {
  newExecutionId,
  TERMINAL_STATUSES,
  type ExecutionRecord,
  type ExecutionStatus,
  type Tenant,
} from '../../../src/domain/index.ts';
import type { Verdict } from '../../../src/engine/outcome.ts';
import { Slots } from '../../../src/engine/slots.ts';
import type { ExecutionPayload } from '../../../src/engine/submit.ts';
import type { ExecutionJob } from '../../../src/engine/types.ts';
import { createQueue, type Queue } from '../../../src/queue/index.ts';
import { StoreResultStore } from '../../../src/results/index.ts';
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { defaultTenantLimits } from '../../../src/tenancy/service.ts';
import { Worker, type WorkerOptions } from '../../../src/worker/worker.ts';

export const config = loadConfig({ RELAY_DATA_DIR: '/nonexistent-relay-unit' });
export const quiet = { info() {}, warn() {}, error() {} };

/** How one attempt ends; it may watch `signal` (aborted on cancel, lost lease or shutdown). */
export type Script = (job: ExecutionJob, signal: AbortSignal) => Promise<Verdict>;

export const ok = (output: unknown = 'ok'): Verdict => ({
  status: 'succeeded',
  output,
  error: null,
});
export const boom = (message = 'boom'): Verdict => ({
  status: 'failed',
  output: null,
  error: { type: 'Error', message },
});

/** Resolves with a `cancelled` verdict once the signal aborts (a sandbox that was killed). */
export function untilAborted(signal: AbortSignal): Promise<Verdict> {
  return new Promise((resolve) => {
    const done = () =>
      resolve({
        status: 'cancelled',
        output: null,
        error: { type: 'Cancelled', message: 'Execution was cancelled' },
      });
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** The engine as the worker sees it, with attempts ending as `script` says. */
export class ScriptedEngine {
  readonly slots: Slots;
  readonly jobs: ExecutionJob[] = [];
  readonly #results: StoreResultStore;
  readonly #script: Script;

  constructor(results: StoreResultStore, script: Script, capacity = 4) {
    this.#results = results;
    this.#script = script;
    this.slots = new Slots(capacity);
  }

  async run(
    job: ExecutionJob,
    signal?: AbortSignal,
    persist: (verdict: Verdict) => ExecutionStatus | null = (v) => v.status,
  ): Promise<ExecutionRecord> {
    await this.slots.acquire(signal);
    this.jobs.push(job);
    const id = job.executionId;
    let verdict: Verdict;
    try {
      await this.#results.update(id, {
        status: 'running',
        startedAt: new Date().toISOString(),
        attempt: job.attempt,
      });
      verdict = await this.#script(job, signal ?? new AbortController().signal);
    } finally {
      this.slots.release();
    }
    const stored = (await this.#results.get(null, id)) as ExecutionRecord;
    const status = persist(verdict);
    if (status === null) return { ...stored, ...verdict };
    await this.#results.update(id, {
      ...verdict,
      status,
      finishedAt: TERMINAL_STATUSES.has(status) ? new Date().toISOString() : null,
    });
    return (await this.#results.get(null, id)) as ExecutionRecord;
  }
}

export interface Bench {
  store: ControlStore;
  queue: Queue;
  results: StoreResultStore;
  tenant: Tenant;
  /** Record and queue an execution as the ExecutionService does; returns its id. */
  submit(options?: { sync?: boolean; maxAttempts?: number; traceparent?: string }): Promise<string>;
  record(id: string): Promise<ExecutionRecord>;
  /** A worker over this bench's queue and store, started; stopped by close(). */
  worker(
    script: Script,
    options?: Partial<WorkerOptions> & { capacity?: number },
  ): { worker: Worker; engine: ScriptedEngine };
  close(): Promise<void>;
}

export async function openBench(): Promise<Bench> {
  const store = await createStore('sqlite::memory:');
  const queue = await createQueue('sqlite::memory:', { pollIntervalMs: 10 });
  const results = new StoreResultStore(store);
  const tenant = await store.createTenant({
    id: 't_unit',
    name: 'unit',
    limits: defaultTenantLimits(config),
  });
  const workers: Worker[] = [];
  let n = 0;
  return {
    store,
    queue,
    results,
    tenant,
    async submit(options = {}) {
      const now = Date.now();
      const id = newExecutionId(now);
      n++;
      const sync = options.sync ?? false;
      const maxAttempts = options.maxAttempts ?? (sync ? 1 : 3);
      await results.create({
        id,
        tenantId: tenant.id,
        rufid: 'fn_unit',
        version: 1,
        branch: 'main',
        status: 'queued',
        input: { n },
        output: null,
        error: null,
        timings: {},
        usage: {},
        cost: 0,
        attempt: 0,
        maxAttempts,
        priority: 5,
        async: !sync,
        idempotencyKey: null,
        traceparent: options.traceparent ?? null,
        createdAt: new Date(now).toISOString(),
        startedAt: null,
        finishedAt: null,
      });
      const payload: ExecutionPayload = {
        rufid: 'fn_unit',
        version: 1,
        branch: 'main',
        sync,
        input: { n },
      };
      await queue.enqueue({
        id,
        tenantId: tenant.id,
        maxAttempts,
        payload,
        traceparent: options.traceparent ?? null,
      });
      return id;
    },
    async record(id) {
      return (await results.get(null, id)) as ExecutionRecord;
    },
    worker(script, options = {}) {
      const { capacity, ...rest } = options;
      const engine = new ScriptedEngine(results, script, capacity);
      const worker = new Worker({
        queue,
        engine,
        results,
        logger: quiet,
        leaseMs: 2000,
        retryPolicy: { baseDelayMs: 5, maxDelayMs: 20 },
        attempts: store,
        reapIntervalMs: 20,
        ...rest,
      });
      worker.start();
      workers.push(worker);
      return { worker, engine };
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop(0)));
      await queue.close();
      await store.close();
    },
  };
}

/** Poll `check` until it returns a value other than undefined; fail after `timeoutMs`. */
export async function until<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A queue whose heartbeats hang while `paused` (a worker cut off from the queue). */
export function partitionable(queue: Queue): { queue: Queue; pause(): void; resume(): void } {
  let gate: PromiseWithResolvers<void> | undefined;
  const proxy = new Proxy(queue, {
    get(target, prop) {
      if (prop === 'heartbeat') {
        return async (...args: Parameters<Queue['heartbeat']>) => {
          await gate?.promise;
          return target.heartbeat(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  return {
    queue: proxy,
    pause: () => {
      gate ??= Promise.withResolvers();
    },
    resume: () => {
      gate?.resolve();
      gate = undefined;
    },
  };
}
