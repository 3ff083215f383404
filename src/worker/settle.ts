/**
 * How a worker acknowledges the queue once an attempt has ended: complete
 * it, hand it back for a retry after a jittered backoff, or declare it dead
 * when its attempts are used up, writing down in the execution's log why.
 */
import type { ExecutionError, ExecutionRecord } from '../domain/index.ts';
import { decideAfterAttempt, type RetryPolicy } from '../engine/retry.ts';
import type { ExecutionPayload } from '../engine/submit.ts';
import type { LeasedJob, Queue } from '../queue/port.ts';
import type { ResultStorePort } from '../results/port.ts';

export interface SettleDeps {
  queue: Queue;
  results: ResultStorePort;
  workerId: string;
  retryPolicy: RetryPolicy | undefined;
}

/** Appends a `system` line to an execution's log. */
export async function note(results: ResultStorePort, id: string, line: string): Promise<void> {
  await results.appendLogs(id, [{ stream: 'system', time: new Date().toISOString(), line }]);
}

function describe(record: Pick<ExecutionRecord, 'status' | 'error'>): string {
  return record.error
    ? `${record.status} (${record.error.type}: ${record.error.message})`
    : record.status;
}

/** Acknowledges the queue after an attempt: finish, retry later, or dead. */
export async function settleAttempt(
  deps: SettleDeps,
  job: LeasedJob,
  payload: ExecutionPayload,
  record: Pick<ExecutionRecord, 'status' | 'error'>,
): Promise<void> {
  const { queue, results, workerId } = deps;
  const decision = decideAfterAttempt(
    record,
    job.attempt,
    job.maxAttempts,
    !payload.sync,
    deps.retryPolicy,
  );
  if (decision.action === 'retry') {
    const retryAt = Date.now() + decision.delayMs;
    if (await queue.fail(workerId, job.id, { retryAt })) {
      // The last attempt's error stays visible while the next one waits.
      await results.update(job.id, { status: 'queued', finishedAt: null });
      await note(
        results,
        job.id,
        `[relay] attempt ${job.attempt} of ${job.maxAttempts} ended ${describe(record)}; retrying in ${(decision.delayMs / 1000).toFixed(1)}s`,
      );
    }
    return;
  }
  if (decision.action === 'dead') {
    const error: ExecutionError = {
      type: record.error?.type ?? 'RetriesExhausted',
      message: `all ${job.maxAttempts} attempts failed; last: ${record.error?.message ?? record.status}`,
    };
    // The note first: a log follower stops at the dead status.
    await note(
      results,
      job.id,
      `[relay] attempt ${job.attempt} of ${job.maxAttempts} ended ${describe(record)}; no attempts left`,
    );
    await results.update(job.id, { status: 'dead', error, finishedAt: new Date().toISOString() });
    await queue.complete(workerId, job.id, { status: 'dead' });
    return;
  }
  const status =
    record.status === 'queued' || record.status === 'running' || record.status === 'rejected'
      ? 'failed'
      : record.status;
  await queue.complete(workerId, job.id, { status });
}
