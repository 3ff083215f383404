/**
 * What every adapter does the same way before touching its backend:
 * defaults, validation of new jobs, the backpressure decision and the
 * QUEUE_FULL error. Keeping it here means the three adapters cannot drift
 * on what a valid job or a full queue is.
 */
import { RelayError } from '../domain/index.ts';
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  MAX_PRIORITY,
  MIN_PRIORITY,
  type Job,
  type NewJob,
  type QueueOptions,
} from './port.ts';

export interface ResolvedQueueOptions {
  maxQueuedPerTenant: number;
  maxQueuedTotal: number;
  retryAfterSeconds: number;
  completionRetentionMs: number;
  pollIntervalMs: number;
}

/** Fill in the defaults of QueueOptions. */
export function resolveOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  return {
    maxQueuedPerTenant: options.maxQueuedPerTenant ?? 10_000,
    maxQueuedTotal: options.maxQueuedTotal ?? 100_000,
    retryAfterSeconds: options.retryAfterSeconds ?? 5,
    completionRetentionMs: options.completionRetentionMs ?? 60 * 60 * 1000,
    pollIntervalMs: options.pollIntervalMs ?? 50,
  };
}

/** A validated new job with its defaults applied, ready for an adapter to store. */
export interface PreparedJob extends Job {
  /** The group's concurrency limit as this enqueue states it; 0 means none. */
  concurrency: number;
  /** The tenant's queued limit for this enqueue. */
  maxQueued: number;
  /** Deliverable now (else scheduled for runAfter). */
  ready: boolean;
  /** The payload as JSON text, serialized once. */
  payloadJson: string;
}

function invalid(message: string): RelayError {
  return new RelayError('VALIDATION_FAILED', message);
}

function isCount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/** Validate and complete new jobs; throws VALIDATION_FAILED or CONFLICT (an id twice in one call). */
export function prepareJobs(
  jobs: readonly NewJob[],
  now: number,
  options: ResolvedQueueOptions,
): PreparedJob[] {
  const seen = new Set<string>();
  return jobs.map((job) => {
    if (typeof job.id !== 'string' || job.id.length === 0 || job.id.length > 200) {
      throw invalid('job id must be a non-empty string of at most 200 characters');
    }
    if (seen.has(job.id)) throw new RelayError('CONFLICT', `job ${job.id} appears twice`);
    seen.add(job.id);
    if (typeof job.tenantId !== 'string' || job.tenantId.length === 0) {
      throw invalid('job tenantId must be a non-empty string');
    }
    const priority = job.priority ?? DEFAULT_PRIORITY;
    if (!isCount(priority, MIN_PRIORITY) || priority > MAX_PRIORITY) {
      throw invalid(`priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`);
    }
    const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!isCount(maxAttempts, 1)) throw invalid('maxAttempts must be an integer of at least 1');
    const concurrency = job.limits?.concurrency ?? 0;
    if (!isCount(concurrency, 0))
      throw invalid('limits.concurrency must be a non-negative integer');
    const maxQueued = job.limits?.maxQueued ?? options.maxQueuedPerTenant;
    if (!isCount(maxQueued, 0)) throw invalid('limits.maxQueued must be a non-negative integer');
    const runAfter = Math.max(job.runAfter ?? now, now);
    const payloadJson = JSON.stringify(job.payload ?? null);
    return {
      id: job.id,
      tenantId: job.tenantId,
      group: job.group ?? job.tenantId,
      priority,
      attempt: 1,
      maxAttempts,
      payload: job.payload ?? null,
      enqueuedAt: now,
      runAfter,
      traceparent: job.traceparent ?? null,
      concurrency,
      maxQueued,
      ready: runAfter <= now,
      payloadJson,
    };
  });
}

/** The port's view of a prepared job. */
export function publicJob(j: PreparedJob): Job {
  return {
    id: j.id,
    tenantId: j.tenantId,
    group: j.group,
    priority: j.priority,
    attempt: j.attempt,
    maxAttempts: j.maxAttempts,
    payload: j.payload,
    enqueuedAt: j.enqueuedAt,
    runAfter: j.runAfter,
    traceparent: j.traceparent,
  };
}

/** Jobs per tenant in a batch, with the tenant's queued limit (the smallest any job states). */
export function tenantDemand(
  jobs: readonly PreparedJob[],
): Map<string, { adding: number; limit: number }> {
  const demand = new Map<string, { adding: number; limit: number }>();
  for (const job of jobs) {
    const d = demand.get(job.tenantId);
    if (d === undefined) demand.set(job.tenantId, { adding: 1, limit: job.maxQueued });
    else {
      d.adding++;
      d.limit = Math.min(d.limit, job.maxQueued);
    }
  }
  return demand;
}

/** The QUEUE_FULL error for a tenant (or for the whole queue when tenantId is null). */
export function queueFull(tenantId: string | null, options: ResolvedQueueOptions): RelayError {
  const what =
    tenantId === null ? 'the queue is full' : `tenant ${tenantId} has too many queued executions`;
  return new RelayError('QUEUE_FULL', `${what}; try again later`, {
    retryAfterSeconds: options.retryAfterSeconds,
  });
}

/**
 * Throw QUEUE_FULL unless the batch fits: `queuedOf(tenant)` and `totalQueued`
 * are the counts before the batch.
 */
export function admit(
  jobs: readonly PreparedJob[],
  queuedOf: (tenantId: string) => number,
  totalQueued: number,
  options: ResolvedQueueOptions,
): void {
  if (totalQueued + jobs.length > options.maxQueuedTotal) throw queueFull(null, options);
  for (const [tenantId, d] of tenantDemand(jobs)) {
    if (queuedOf(tenantId) + d.adding > d.limit) throw queueFull(tenantId, options);
  }
}

/** Check claim and heartbeat arguments. */
export function checkLeaseArgs(n: number, leaseMs: number): void {
  if (!isCount(n, 0) || n > 1000) throw invalid('claim size must be an integer from 0 to 1000');
  if (!(leaseMs > 0) || !Number.isFinite(leaseMs))
    throw invalid('leaseMs must be a positive number');
}

/** The next attempt's fate once a delivery failed or its lease was lost. */
export function attemptsLeft(attempt: number, maxAttempts: number): boolean {
  return attempt < maxAttempts;
}
