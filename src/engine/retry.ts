/**
 * What happens after an attempt: finish, retry later (exponential backoff
 * with full jitter), or give up as `dead`. Sync calls never retry: their
 * caller is waiting and decides for themselves. Also how an attempt whose
 * worker vanished is written down, since nobody saw it end.
 */
import type {
  ExecutionAttempt,
  ExecutionError,
  ExecutionRecord,
  ExecutionStatus,
} from '../domain/index.ts';
import { TERMINAL_STATUSES } from '../domain/index.ts';
import { NON_RETRYABLE_ERROR_TYPES } from './outcome.ts';

export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
});

export type AttemptDecision =
  | { action: 'finish'; status: ExecutionStatus }
  | { action: 'retry'; delayMs: number }
  | { action: 'dead' };

const RETRYABLE_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  'failed',
  'timed_out',
  'memory_exceeded',
]);

/** Decides the fate of a finished attempt. */
export function decideAfterAttempt(
  record: Pick<ExecutionRecord, 'status' | 'error'>,
  attempt: number,
  maxAttempts: number,
  retriesAllowed: boolean,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): AttemptDecision {
  const retryable =
    retriesAllowed &&
    RETRYABLE_STATUSES.has(record.status) &&
    !NON_RETRYABLE_ERROR_TYPES.has(record.error?.type ?? '');
  if (!retryable) return { action: 'finish', status: record.status };
  if (attempt >= maxAttempts) return { action: 'dead' };
  return { action: 'retry', delayMs: backoffDelay(attempt, policy, random) };
}

/** Full jitter: uniform in [0, min(max, base · 2^(attempt-1))], at least 10% of the cap so retries never stampede at 0. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap * (0.1 + 0.9 * random()));
}

/**
 * True once nothing more will happen to the execution. A failed attempt of
 * an async execution is written as `failed` by the engine a moment before
 * its worker queues the retry (or declares it dead), so `failed` alone does
 * not mean over: this tells readers (log followers) not to stop there.
 */
export function isSettled(
  record: Pick<ExecutionRecord, 'status' | 'error' | 'async' | 'attempt' | 'maxAttempts'>,
): boolean {
  if (!TERMINAL_STATUSES.has(record.status)) return false;
  // Sync calls are never retried; attempt 0 never ran (it could not be queued).
  if (!record.async || record.attempt === 0) return true;
  return decideAfterAttempt(record, record.attempt, record.maxAttempts, true).action === 'finish';
}

/** Error type of an attempt whose worker stopped heartbeating (crashed, killed, cut off). */
export const WORKER_LOST = 'WorkerLost';

/** The error of an attempt that was still running when its worker's lease expired. */
export function workerLostError(attempt: number, workerId: string | null): ExecutionError {
  const who = workerId === null ? 'its worker' : `worker ${workerId}`;
  return {
    type: WORKER_LOST,
    message: `attempt ${attempt} was abandoned: ${who} stopped renewing its lease (crashed or cut off)`,
  };
}

/** An attempt recorded as running whose worker is gone, closed as failed with WorkerLost. */
export function abandonedAttempt(a: ExecutionAttempt): ExecutionAttempt {
  return { ...a, status: 'failed', error: workerLostError(a.attempt, a.workerId) };
}
