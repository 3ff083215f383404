/**
 * The embedded queue on node:sqlite (WAL, synchronous=NORMAL), on its own
 * connection: its own file, or the control store's file. Writes are
 * batched per tick (db.ts), claims of one worker in the same tick become
 * one claim, and waiters in this process hear completions and new work at
 * once; other processes on the same file poll.
 */
import { ClaimCoalescers } from '../batcher.ts';
import { QUEUE_CAPABILITIES } from '../capabilities.ts';
import {
  attemptsLeft,
  checkLeaseArgs,
  prepareJobs,
  publicJob,
  resolveOptions,
  type ResolvedQueueOptions,
} from '../jobs.ts';
import type {
  CancelOutcome,
  Completion,
  FailAction,
  HeartbeatReport,
  Job,
  JobResult,
  LeasedJob,
  NewJob,
  Queue,
  QueueDepth,
  QueueOptions,
  ReapReport,
} from '../port.ts';
import { awaitCompletion, awaitWork, LocalSignals } from '../signals.ts';
import { QueueDb, type Row } from './db.ts';
import {
  claimJobs,
  finishJob,
  insertJobs,
  num,
  promoteDue,
  readCompletion,
  requeueJob,
} from './writes.ts';

export interface SqliteQueueOptions extends QueueOptions {
  /** How long a write waits for another process's lock. */
  busyTimeoutMs?: number;
}

/** Open (and create if needed) the queue tables in the SQLite file at `file`. */
export function openSqliteQueue(file: string, options: SqliteQueueOptions = {}): SqliteQueue {
  return new SqliteQueue(file, options);
}

export class SqliteQueue implements Queue {
  readonly backend = 'sqlite' as const;
  readonly capabilities = QUEUE_CAPABILITIES.sqlite;
  readonly #db: QueueDb;
  readonly #options: ResolvedQueueOptions;
  readonly #signals = new LocalSignals();
  // Claims of one worker made meanwhile become one claim: one pass over the
  // rotation instead of one per caller, in the same fairness order.
  readonly #claimers = new ClaimCoalescers(
    (workerId, n, leaseMs) => this.#claim(workerId, n, leaseMs),
    1,
  );
  /** When this instance last looked for due retries; claims look at most once per poll interval. */
  #dueCheckedAt = 0;

  constructor(file: string, options: SqliteQueueOptions = {}) {
    this.#options = resolveOptions(options);
    this.#db = new QueueDb(file, options.busyTimeoutMs ?? 5000);
  }

  async enqueue(job: NewJob): Promise<Job> {
    return (await this.enqueueMany([job]))[0] as Job;
  }

  async enqueueMany(jobs: NewJob[]): Promise<Job[]> {
    const prepared = prepareJobs(jobs, Date.now(), this.#options);
    if (prepared.length === 0) return [];
    // One job fails, if at all, before it writes anything: only a batch needs a savepoint.
    const atomic = prepared.length > 1;
    await this.#db.tx(() => insertJobs(this.#db.s, prepared, this.#options), atomic);
    if (prepared.some((j) => j.ready)) this.#signals.workArrived();
    return prepared.map(publicJob);
  }

  async claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    checkLeaseArgs(n, leaseMs);
    if (n === 0) return [];
    return this.#claimers.submit(workerId, n, leaseMs);
  }

  #claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    return this.#db.tx(() => {
      const now = Date.now();
      if (now - this.#dueCheckedAt >= this.#options.pollIntervalMs) {
        this.#dueCheckedAt = now;
        promoteDue(this.#db.s, now);
      }
      return claimJobs(this.#db.s, workerId, n, now + leaseMs, now);
    });
  }

  async heartbeat(workerId: string, jobIds: string[], leaseMs: number): Promise<HeartbeatReport> {
    checkLeaseArgs(0, leaseMs);
    return this.#db.tx(() => {
      const now = Date.now();
      const report: HeartbeatReport = { extended: [], lost: [], cancelled: [] };
      for (const id of jobIds) {
        const row = this.#db.s.heartbeat.get(now + leaseMs, id, workerId, now) as Row | undefined;
        if (row === undefined) report.lost.push(id);
        else {
          report.extended.push(id);
          if (num(row.cancel_requested) === 1) report.cancelled.push(id);
        }
      }
      return report;
    });
  }

  async complete(workerId: string, jobId: string, result: JobResult): Promise<boolean> {
    const finishedAt = Date.now();
    const outcome = JSON.stringify({ status: result.status, payload: result.payload ?? null });
    const done = await this.#db.tx(
      () => this.#db.s.complete.get(outcome, finishedAt, jobId, workerId, finishedAt) !== undefined,
    );
    if (done) this.#signals.completed({ jobId, ...result, finishedAt });
    return done;
  }

  async fail(workerId: string, jobId: string, action: FailAction): Promise<boolean> {
    const s = this.#db.s;
    const result = await this.#db.tx(() => {
      const now = Date.now();
      const row = s.held.get(jobId, workerId, now) as Row | undefined;
      if (row === undefined) return null;
      if (num(row.cancel_requested) === 1) {
        return { completion: finishJob(s, row.seq, jobId, { status: 'cancelled' }, now) };
      }
      if ('dead' in action || !attemptsLeft(num(row.attempt), num(row.max_attempts))) {
        const payload = 'dead' in action ? action.payload : undefined;
        return { completion: finishJob(s, row.seq, jobId, { status: 'dead', payload }, now) };
      }
      return { ready: requeueJob(s, row, action.retryAt, now) };
    });
    if (result === null) return false;
    if (result.completion !== undefined) this.#signals.completed(result.completion);
    if (result.ready === true) this.#signals.workArrived();
    return true;
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const s = this.#db.s;
    const result = await this.#db.tx(() => {
      const row = s.cancelLookup.get(jobId) as Row | undefined;
      if (row === undefined || row.state === 'done') return { outcome: 'unknown' as const };
      if (row.state === 'running') {
        s.flagCancel.run(row.seq as number);
        return { outcome: 'signalled' as const };
      }
      s.addTenantQueued.run(row.tenant_id as string, -1);
      s.addQueued.run(-1, 0);
      const completion = finishJob(s, row.seq, jobId, { status: 'cancelled' }, Date.now());
      return { outcome: 'cancelled' as const, completion };
    });
    if (result.outcome === 'signalled') this.#signals.cancelled(jobId);
    if (result.completion !== undefined) this.#signals.completed(result.completion);
    return result.outcome;
  }

  onCancel(listener: (jobId: string) => void): () => void {
    return this.#signals.onCancel(listener);
  }

  async reapExpired(): Promise<ReapReport> {
    const s = this.#db.s;
    const result = await this.#db.tx(() => {
      const now = Date.now();
      const report: ReapReport = { requeued: 0, dead: 0, purged: 0 };
      const completions: Completion[] = [];
      for (const row of s.expired.all(now) as Row[]) {
        const id = row.id as string;
        if (num(row.cancel_requested) === 1) {
          completions.push(finishJob(s, row.seq, id, { status: 'cancelled' }, now));
        } else if (attemptsLeft(num(row.attempt), num(row.max_attempts))) {
          requeueJob(s, row, now, now);
          report.requeued++;
        } else {
          completions.push(finishJob(s, row.seq, id, { status: 'dead' }, now));
          report.dead++;
        }
      }
      const promoted = promoteDue(s, now);
      report.purged = Number(s.purge.run(now - this.#options.completionRetentionMs).changes);
      return { report, completions, woke: report.requeued + promoted > 0 };
    });
    for (const c of result.completions) this.#signals.completed(c);
    if (result.woke) this.#signals.workArrived();
    return result.report;
  }

  async depth(): Promise<QueueDepth> {
    const now = Date.now();
    const depth: QueueDepth = { ready: 0, delayed: 0, running: 0, tenants: [] };
    const tenants = new Map<string, { queued: number; oldest: number | null }>();
    for (const r of this.#db.s.depth.all() as Row[]) {
      const n = num(r.n);
      const state = r.state as 'ready' | 'delayed' | 'running';
      depth[state] += n;
      if (state === 'running') continue;
      const t = tenants.get(r.tenant_id as string) ?? { queued: 0, oldest: null };
      t.queued += n;
      if (state === 'ready') t.oldest = num(r.oldest);
      tenants.set(r.tenant_id as string, t);
    }
    for (const [tenantId, t] of tenants) {
      const oldestReadyAgeMs = t.oldest === null ? null : Math.max(0, now - t.oldest);
      depth.tenants.push({ tenantId, queued: t.queued, oldestReadyAgeMs });
    }
    return depth;
  }

  async waitForCompletion(jobId: string, timeoutMs: number): Promise<Completion | null> {
    return awaitCompletion({
      jobId,
      timeoutMs,
      signals: this.#signals,
      check: async () => readCompletion(this.#db.s, jobId),
      pollMs: this.#options.pollIntervalMs,
    });
  }

  async waitForWork(signal: AbortSignal | undefined, maxWaitMs: number): Promise<boolean> {
    const s = this.#db.s;
    const stamp = () => num((s.totalQueued.get() as Row).work_stamp);
    const start = stamp();
    return awaitWork({
      signal,
      maxWaitMs,
      signals: this.#signals,
      changed: async () => stamp() !== start || s.hasDue.get(Date.now()) !== undefined,
      pollMs: this.#options.pollIntervalMs,
      maxPollMs: Math.max(this.#options.pollIntervalMs, 500),
    });
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
