/**
 * The worker: claims as many jobs as it has free execution slots, runs
 * each through the engine, and acknowledges the queue — complete, retry
 * later, or dead. Heartbeats keep its leases alive and tell it of cancels;
 * a periodic reap returns the leases of workers that died. Each attempt
 * is written down (worker, outcome, timing) as it starts and ends, so an
 * attempt whose worker vanished still shows. On stop it claims nothing
 * more, lets running work finish within a grace period, then gives back
 * what is left so nothing is lost.
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionAttempt, ExecutionError, ExecutionRecord } from '../domain/index.ts';
import type { ExecutionEngine } from '../engine/engine.ts';
import { decideAfterAttempt } from '../engine/retry.ts';
import type { RetryPolicy } from '../engine/retry.ts';
import type { Verdict } from '../engine/outcome.ts';
import type { ExecutionPayload } from '../engine/submit.ts';
import type { LeasedJob, Queue } from '../queue/port.ts';
import type { ResultStorePort } from '../results/port.ts';
import { AttemptRecorder, type AttemptLog } from './attempts.ts';
import { note, settleAttempt } from './settle.ts';

export interface WorkerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerOptions {
  queue: Queue;
  /** The engine's slots and run() are all the worker uses. */
  engine: Pick<ExecutionEngine, 'slots' | 'run'>;
  results: ResultStorePort;
  logger: WorkerLogger;
  workerId?: string;
  leaseMs: number;
  retryPolicy?: RetryPolicy;
  /** Every attempt's worker, outcome and timing; without it attempts are not recorded. */
  attempts?: AttemptLog;
  /** How often expired leases are looked for (default: a third of the lease). */
  reapIntervalMs?: number;
}

interface Running {
  job: LeasedJob;
  controller: AbortController;
  /** Why it was aborted: a user's cancel is persisted, a lost lease is not ours to report. */
  abortReason?: 'cancelled' | 'lease-lost' | 'shutdown';
  /**
   * Until when the lease is surely ours: the claim's deadline, moved on by
   * each heartbeat the queue confirmed (from when that heartbeat was sent).
   */
  leaseUntil: number;
  done: Promise<void>;
}

export class Worker {
  readonly id: string;
  readonly #opts: WorkerOptions;
  readonly #attempts: AttemptRecorder;
  readonly #running = new Map<string, Running>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribeCancel: (() => void) | undefined;
  #slotFreed: PromiseWithResolvers<void> = Promise.withResolvers();
  /** Ends the claim loop's idle wait. */
  #wake: AbortController | undefined;

  constructor(options: WorkerOptions) {
    this.#opts = options;
    this.id = options.workerId ?? `w_${randomBytes(6).toString('hex')}`;
    this.#attempts = new AttemptRecorder(options.attempts, this.id, (obj, msg) =>
      options.logger.warn(obj, msg),
    );
  }

  /** Jobs this worker is running right now. */
  get running(): number {
    return this.#running.size;
  }

  start(): void {
    if (this.#loop) return;
    const { queue, leaseMs } = this.#opts;
    this.#unsubscribeCancel = queue.onCancel((jobId) => this.#abort(jobId, 'cancelled'));
    this.#timers.push(setInterval(() => void this.#heartbeat(), Math.max(50, leaseMs / 3)));
    this.#timers.push(
      setInterval(() => void this.#reap(), this.#opts.reapIntervalMs ?? Math.max(100, leaseMs / 3)),
    );
    for (const t of this.#timers) t.unref();
    this.#loop = this.#claimLoop();
  }

  /**
   * Stops claiming, waits up to `graceMs` for running work, then aborts
   * what is left and hands it back to the queue for another worker.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stop.signal.aborted) return this.#loop;
    this.#stop.abort();
    this.#slotFreed.resolve();
    await this.#loop;
    const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
    const graceOver = new Promise<'timeout'>((r) =>
      setTimeout(() => r('timeout'), graceMs).unref(),
    );
    if ((await Promise.race([all(), graceOver])) === 'timeout') {
      for (const id of this.#running.keys()) this.#abort(id, 'shutdown');
      await all();
    }
    for (const t of this.#timers) clearInterval(t);
    this.#unsubscribeCancel?.();
  }

  async #claimLoop(): Promise<void> {
    const { queue, engine, leaseMs, logger } = this.#opts;
    const signal = this.#stop.signal;
    let idle = false;
    while (!signal.aborted) {
      const free = engine.slots.capacity - this.#running.size;
      if (free <= 0) {
        await this.#slotFreed.promise;
        continue;
      }
      // Idle, listen before claiming: work enqueued between an empty claim
      // and the start of a wait would otherwise sit until the next poll.
      const wait = idle ? this.#waitForWork() : undefined;
      let jobs: LeasedJob[] = [];
      try {
        jobs = await queue.claim(this.id, free, leaseMs);
      } catch (err) {
        wait?.stop();
        logger.error({ err, worker: this.id }, 'claim failed; backing off');
        await sleep(500, signal);
        continue;
      }
      if (jobs.length === 0) {
        await wait?.done;
        idle = true;
        continue;
      }
      wait?.stop();
      for (const job of jobs) this.#launch(job);
      // Fewer jobs than asked for: the queue had no more. The next claim (made
      // listening, as when idle) waits until the jobs just launched have
      // reached their sandboxes, since a claim holds the event loop while it runs.
      idle = jobs.length < free;
      if (idle) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Waits for new work, for one of our jobs to end (that frees a concurrency
   * share of its tenant, which no enqueue announces) or for stop.
   */
  #waitForWork(): { done: Promise<unknown>; stop: () => void } {
    const signal = this.#stop.signal;
    const wake = new AbortController();
    const stop = () => wake.abort();
    signal.addEventListener('abort', stop, { once: true });
    this.#wake = wake;
    const done = this.#opts.queue
      .waitForWork(wake.signal, 1000)
      .catch(() => sleep(200, wake.signal))
      .finally(() => signal.removeEventListener('abort', stop));
    return { done, stop };
  }

  #launch(job: LeasedJob): void {
    const controller = new AbortController();
    const entry: Running = { job, controller, leaseUntil: job.leaseUntil, done: Promise.resolve() };
    this.#running.set(job.id, entry);
    entry.done = this.#execute(entry)
      .catch((err: unknown) =>
        this.#opts.logger.error({ err, job: job.id }, 'worker failed to settle a job'),
      )
      .finally(() => {
        this.#running.delete(job.id);
        this.#wake?.abort();
        const freed = this.#slotFreed;
        this.#slotFreed = Promise.withResolvers();
        freed.resolve();
      });
  }

  async #execute(entry: Running): Promise<void> {
    const { job, controller } = entry;
    const { engine, results } = this.#opts;
    const payload = job.payload as ExecutionPayload;
    const opened = this.#attempts.open(job.id, (payload.attemptBase ?? 0) + job.attempt);
    let input = payload.input;
    if (input === undefined) input = (await results.get(null, job.id))?.input ?? null;
    // How the attempt itself ended; the stored status may already say `queued` for a retry.
    let verdict: Verdict | undefined;
    const stored = await engine.run(
      {
        executionId: job.id,
        tenantId: job.tenantId,
        rufid: payload.rufid,
        version: payload.version,
        branch: payload.branch,
        input,
        attempt: job.attempt,
        enqueuedAt: job.enqueuedAt,
        traceparent: job.traceparent,
      },
      controller.signal,
      // A shutdown hands the job on, and a `cancelled` verdict written now
      // would tell pollers it is over. A lease past its deadline may already
      // belong to the next attempt, even before a heartbeat says it is lost:
      // its verdict must not overwrite that attempt's record.
      (ended) => {
        verdict = ended;
        const ours = entry.abortReason === undefined || entry.abortReason === 'cancelled';
        if (ours && Date.now() < entry.leaseUntil) {
          // An attempt about to be retried is recorded as queued at once: pollers never see a non-final failure.
          const next = decideAfterAttempt(
            ended,
            job.attempt,
            job.maxAttempts,
            !payload.sync,
            this.#opts.retryPolicy,
          );
          return next.action === 'retry' ? 'queued' : ended.status;
        }
        if (ours) entry.abortReason = 'lease-lost';
        return null;
      },
    );
    const record = verdict ? { ...stored, status: verdict.status, error: verdict.error } : stored;
    const attempt = await opened;
    // Shutdown kept the verdict from the engine; past the lease it is not ours to write either.
    if (
      entry.abortReason === 'shutdown' &&
      record.status !== 'cancelled' &&
      Date.now() >= entry.leaseUntil
    ) {
      entry.abortReason = 'lease-lost';
    }
    if (entry.abortReason === 'lease-lost') {
      await this.#attempts.close(job.id, attempt, 'failed', {
        type: 'LeaseLost',
        message: `worker ${this.id} lost its lease (heartbeats did not reach the queue in time); the job went to another attempt`,
      });
      return;
    }
    if (entry.abortReason === 'shutdown') {
      if (record.status === 'cancelled') return this.#giveBack(job, payload, attempt);
      // It finished on its own as the grace ran out: keep that verdict (the engine did not write it).
      await results.update(job.id, {
        status: record.status,
        output: record.output,
        error: record.error,
        timings: record.timings,
        usage: record.usage,
        cost: record.cost,
        finishedAt: record.finishedAt ?? new Date().toISOString(),
      });
    }
    await this.#attempts.close(job.id, attempt, record.status, record.error);
    await this.#settle(job, payload, record);
  }

  /** Acknowledges the queue after an attempt (settle.ts). */
  #settle(
    job: LeasedJob,
    payload: ExecutionPayload,
    record: Pick<ExecutionRecord, 'status' | 'error'>,
  ): Promise<void> {
    const { queue, results, retryPolicy } = this.#opts;
    return settleAttempt({ queue, results, workerId: this.id, retryPolicy }, job, payload, record);
  }

  /**
   * Shutdown cut an attempt short: the job goes back to the queue for another
   * worker. Without an attempt left the queue would only bury it as dead, so
   * it is settled here as a failed attempt instead, and its caller told why.
   */
  async #giveBack(
    job: LeasedJob,
    payload: ExecutionPayload,
    attempt: ExecutionAttempt | null,
  ): Promise<void> {
    const { queue, results } = this.#opts;
    const error: ExecutionError = {
      type: 'WorkerShutdown',
      message: `worker ${this.id} was stopped and its shutdown grace ran out during attempt ${job.attempt}`,
    };
    await this.#attempts.close(job.id, attempt, 'failed', error);
    if (job.attempt >= job.maxAttempts) {
      await results.update(job.id, {
        status: 'failed',
        output: null,
        error,
        finishedAt: new Date().toISOString(),
      });
      await this.#settle(job, payload, { status: 'failed', error });
      return;
    }
    if (await queue.fail(this.id, job.id, { retryAt: Date.now() })) {
      await results.update(job.id, {
        status: 'queued',
        output: null,
        error: null,
        finishedAt: null,
      });
      await note(
        results,
        job.id,
        `[relay] worker ${this.id} stopped during attempt ${job.attempt}; handed back to the queue`,
      );
    }
  }

  async #heartbeat(): Promise<void> {
    if (this.#running.size === 0) return;
    try {
      const sentAt = Date.now();
      const report = await this.#opts.queue.heartbeat(
        this.id,
        [...this.#running.keys()],
        this.#opts.leaseMs,
      );
      for (const id of report.extended) {
        const entry = this.#running.get(id);
        if (entry) entry.leaseUntil = Math.max(entry.leaseUntil, sentAt + this.#opts.leaseMs);
      }
      for (const id of report.cancelled) this.#abort(id, 'cancelled');
      for (const id of report.lost) this.#abort(id, 'lease-lost');
    } catch (err) {
      this.#opts.logger.warn({ err, worker: this.id }, 'heartbeat failed');
    }
  }

  async #reap(): Promise<void> {
    try {
      const report = await this.#opts.queue.reapExpired();
      if (report.requeued + report.dead > 0) {
        this.#opts.logger.warn({ ...report, worker: this.id }, 'reaped expired leases');
      }
    } catch (err) {
      this.#opts.logger.warn({ err, worker: this.id }, 'reap failed');
    }
  }

  #abort(jobId: string, reason: NonNullable<Running['abortReason']>): void {
    const entry = this.#running.get(jobId);
    if (!entry || entry.abortReason) return;
    entry.abortReason = reason;
    entry.controller.abort();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
