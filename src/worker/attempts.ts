/**
 * The worker's side of "every attempt is recorded": an attempt is written
 * as `running` when it starts (so one whose worker vanishes still shows)
 * and closed with its outcome when it ends. Recording never fails an
 * execution: a store error is logged and the attempt goes on.
 */
import type { ExecutionAttempt, ExecutionError, ExecutionStatus } from '../domain/index.ts';
import { abandonedAttempt } from '../engine/retry.ts';
import type { ControlStore } from '../store/index.ts';

/** Where attempts are written down (the control store satisfies it). */
export type AttemptLog = Pick<ControlStore, 'recordAttempt' | 'listAttempts'>;

export class AttemptRecorder {
  readonly #log: AttemptLog | undefined;
  readonly #workerId: string;
  readonly #warn: (obj: object, msg: string) => void;

  constructor(
    log: AttemptLog | undefined,
    workerId: string,
    warn: (obj: object, msg: string) => void,
  ) {
    this.#log = log;
    this.#workerId = workerId;
    this.#warn = warn;
  }

  /** Records attempt `attempt` as running, closing earlier ones whose worker vanished; null without a log. */
  async open(executionId: string, attempt: number): Promise<ExecutionAttempt | null> {
    const log = this.#log;
    if (!log) return null;
    const opened: ExecutionAttempt = {
      attempt,
      status: 'running',
      error: null,
      workerId: this.#workerId,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      durationMs: null,
    };
    try {
      // An earlier attempt still "running" lost its worker: the queue re-delivered it after the lease ran out.
      if (attempt > 1) {
        for (const earlier of await log.listAttempts(executionId)) {
          if (earlier.attempt < attempt && earlier.status === 'running') {
            await log.recordAttempt(executionId, abandonedAttempt(earlier));
          }
        }
      }
      await log.recordAttempt(executionId, opened);
    } catch (err) {
      this.#warn({ err, execution: executionId, attempt }, 'could not record the attempt');
    }
    return opened;
  }

  /** Closes an opened attempt with its outcome. */
  async close(
    executionId: string,
    opened: ExecutionAttempt | null,
    status: ExecutionStatus,
    error: ExecutionError | null,
  ): Promise<void> {
    if (!this.#log || !opened) return;
    const finishedAt = new Date();
    try {
      await this.#log.recordAttempt(executionId, {
        ...opened,
        status,
        error,
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - Date.parse(opened.startedAt),
      });
    } catch (err) {
      this.#warn(
        { err, execution: executionId, attempt: opened.attempt },
        'could not record the attempt',
      );
    }
  }
}
