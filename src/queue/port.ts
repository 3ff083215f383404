/**
 * The queue port: how Relay hands executions to workers and learns that
 * they finished, in Relay's words. Adapters (sqlite/, postgres/, redis/)
 * implement it; test/integration/queue holds the one conformance suite all
 * of them pass.
 *
 * Rules every adapter keeps:
 * - At-least-once delivery under leases. A claimed job belongs to one
 *   worker until its lease ends; an expired lease makes the job deliverable
 *   again (attempt + 1) or dead when its attempts are used up.
 * - Completed at most once: complete() and fail() succeed only for the
 *   worker that holds a live lease, so a late answer from a worker whose
 *   lease ran out is refused (returns false).
 * - Claim order: fair across groups first (round-robin over groups with
 *   ready work, least recently served first, no credit saved up while
 *   idle), then priority (9 is the most urgent, 0 the least), then FIFO by
 *   first enqueue. See fairness.ts.
 * - A group (the tenant, unless the caller says otherwise) never holds more
 *   live leases than its concurrency limit; the count comes from the live
 *   leases themselves, so a crashed worker's share comes back when its
 *   leases expire.
 * - Backpressure: enqueue beyond the per-tenant or global queued limit throws
 *   RelayError QUEUE_FULL (with retryAfterSeconds) and enqueues nothing;
 *   enqueueMany is all-or-nothing in every case.
 * - Times are epoch milliseconds from the caller's clock; hosts sharing a
 *   queue keep their clocks in sync (NTP) well within a lease length.
 */
import type { ExecutionStatus } from '../domain/index.ts';

export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = 5;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Limits of a job's group and tenant; each enqueue carries the current ones, the latest wins. */
export interface JobLimits {
  /** Most jobs of the group leased at once across all workers; 0 or absent means no limit. */
  concurrency?: number;
  /** Most jobs of the tenant waiting at once; absent means the queue's default. */
  maxQueued?: number;
}

/** What enqueue takes. */
export interface NewJob {
  /** The execution id; unique among jobs not yet finished. */
  id: string;
  tenantId: string;
  /** Unit of fairness and of the concurrency limit; defaults to the tenant. */
  group?: string;
  /** 0-9, 9 most urgent; default 5. */
  priority?: number;
  /** Deliveries before the job is dead; default 3. */
  maxAttempts?: number;
  /** Opaque JSON the engine defines. */
  payload: unknown;
  /** Not deliverable before this time (epoch ms). */
  runAfter?: number;
  traceparent?: string | null;
  limits?: JobLimits;
}

/** A job as the queue holds it. */
export interface Job {
  id: string;
  tenantId: string;
  group: string;
  priority: number;
  /** 1 for the first delivery, +1 for each retry or lost lease. */
  attempt: number;
  maxAttempts: number;
  payload: unknown;
  enqueuedAt: number;
  runAfter: number;
  traceparent: string | null;
}

/** A job handed to a worker, and until when it is theirs. */
export interface LeasedJob extends Job {
  leaseUntil: number;
}

/** The statuses a job can finish with. */
export type FinalStatus = Exclude<ExecutionStatus, 'queued' | 'running' | 'rejected'>;

/** How a job ended, as a worker reports it; `payload` should stay small (it is kept and signalled). */
export interface JobResult {
  status: FinalStatus;
  payload?: unknown;
}

/** The completion signal a waiting caller receives. */
export interface Completion extends JobResult {
  jobId: string;
  finishedAt: number;
}

/** What fail() does next: deliver again at `retryAt`, or give up. */
export type FailAction = { retryAt: number } | { dead: true; payload?: unknown };

export interface HeartbeatReport {
  /** Leases extended (includes cancelled ones: the holder still owns them while it stops). */
  extended: string[];
  /** No longer held by this worker: expired, re-delivered, finished or unknown. */
  lost: string[];
  /** Held, but a cancel was requested: stop the work and complete with `cancelled`. */
  cancelled: string[];
}

/** `cancelled`: was waiting, now removed; `signalled`: running, its holder is told; `unknown`: no such unfinished job. */
export type CancelOutcome = 'cancelled' | 'signalled' | 'unknown';

export interface TenantDepth {
  tenantId: string;
  /** Waiting jobs: ready now or scheduled for later. */
  queued: number;
  /** Age of the oldest job that could run now; null when none. */
  oldestReadyAgeMs: number | null;
}

export interface QueueDepth {
  ready: number;
  delayed: number;
  running: number;
  tenants: TenantDepth[];
}

export interface ReapReport {
  /** Expired leases put back for another attempt. */
  requeued: number;
  /** Expired leases with no attempts left. */
  dead: number;
  /** Finished jobs past their retention, deleted. */
  purged: number;
}

/** Differences between backends, as data: consult a flag instead of checking the backend. */
export interface QueueCapabilities {
  /** waitForCompletion hears a completion in another process at once (else within a short poll). */
  crossProcessCompletion: boolean;
  /** onCancel hears a cancel made in another process (else the holder learns at its next heartbeat). */
  crossProcessCancel: boolean;
  /** waitForWork blocks on the backend and wakes on any process's enqueue (else in-process signal plus polling). */
  blockingWake: boolean;
  /** Several hosts may share the queue. */
  multiHost: boolean;
  /** An acknowledged enqueue survives a crash of the backend without extra configuration. */
  durable: boolean;
}

export type QueueBackend = 'sqlite' | 'postgres' | 'redis';

/** Everything Relay needs from a queue. */
export interface Queue {
  readonly backend: QueueBackend;
  readonly capabilities: QueueCapabilities;

  /** Add one job; throws QUEUE_FULL beyond the limits, CONFLICT when the id is still unfinished. */
  enqueue(job: NewJob): Promise<Job>;
  /** Add several jobs atomically: all of them or none. */
  enqueueMany(jobs: NewJob[]): Promise<Job[]>;
  /** Lease up to `n` ready jobs to `workerId` for `leaseMs`, in fairness order. */
  claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]>;
  /** Extend the worker's leases on `jobIds` to now + `leaseMs`; report lost and cancelled ones. */
  heartbeat(workerId: string, jobIds: string[], leaseMs: number): Promise<HeartbeatReport>;
  /** Finish a job; false (and nothing changes) when the worker no longer holds its lease. */
  complete(workerId: string, jobId: string, result: JobResult): Promise<boolean>;
  /** Give a job back for a later attempt, or declare it dead; false when the lease is not held. Dead once attempts run out. */
  fail(workerId: string, jobId: string, action: FailAction): Promise<boolean>;
  /** Cancel a waiting job (removed) or flag a running one for its holder. */
  cancel(jobId: string): Promise<CancelOutcome>;
  /** Hear cancels of running jobs (see capabilities.crossProcessCancel); returns the unsubscribe. */
  onCancel(listener: (jobId: string) => void): () => void;
  /** Return expired leases to the ready set (or dead), promote due retries, purge old completions. */
  reapExpired(): Promise<ReapReport>;
  /** Counts by state and per tenant. Meant for metrics: may scan. */
  depth(): Promise<QueueDepth>;
  /** Resolve with the job's completion (also one that happened before the call), or null after `timeoutMs`. */
  waitForCompletion(jobId: string, timeoutMs: number): Promise<Completion | null>;
  /** Resolve true when work may have arrived, false after `maxWaitMs` or on abort. */
  waitForWork(signal: AbortSignal | undefined, maxWaitMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Options every adapter understands. */
export interface QueueOptions {
  /** Default per-tenant limit on waiting jobs (a job's limits.maxQueued overrides). */
  maxQueuedPerTenant?: number;
  /** Limit on waiting jobs across all tenants. */
  maxQueuedTotal?: number;
  /** Retry-After for QUEUE_FULL. */
  retryAfterSeconds?: number;
  /** How long a finished job's completion stays readable by waitForCompletion. */
  completionRetentionMs?: number;
  /** Fallback poll interval for signals the backend cannot push. */
  pollIntervalMs?: number;
}
