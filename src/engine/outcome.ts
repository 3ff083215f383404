/**
 * Maps how an invocation ended to the execution's status and the error a
 * user can act on. Every terminal status carries an error type.
 */
import type { ExecutionError, ExecutionStatus } from '../domain/index.ts';
import type { InvokeOutcome } from '../sandbox/port.ts';

export interface Verdict {
  status: ExecutionStatus;
  output: unknown;
  error: ExecutionError | null;
}

export interface VerdictLimits {
  timeoutSeconds: number;
  memoryMb: number;
  maxResultBytes: number;
}

/** The status, output and error for an invocation outcome. */
export function verdictFor(outcome: InvokeOutcome, limits: VerdictLimits): Verdict {
  switch (outcome.kind) {
    case 'ok':
      return { status: 'succeeded', output: outcome.output, error: null };
    case 'error':
      return { status: 'failed', output: null, error: outcome.error };
    case 'timed_out':
      return {
        status: 'timed_out',
        output: null,
        error: {
          type: 'TimeoutError',
          message: `Function exceeded its timeout of ${limits.timeoutSeconds}s and was stopped`,
        },
      };
    case 'memory_exceeded':
      return {
        status: 'memory_exceeded',
        output: null,
        error: {
          type: 'MemoryLimitExceeded',
          message: `Function exceeded its memory limit of ${limits.memoryMb} MB and was stopped`,
        },
      };
    case 'result_too_large':
      return {
        status: 'failed',
        output: null,
        error: {
          type: 'ResultTooLarge',
          message: `Function result of ${outcome.bytes} bytes exceeds the limit of ${limits.maxResultBytes} bytes`,
        },
      };
    case 'cancelled':
      return {
        status: 'cancelled',
        output: null,
        error: { type: 'Cancelled', message: 'Execution was cancelled' },
      };
    case 'crashed':
      return { status: 'failed', output: null, error: outcome.error };
  }
}

/** Error types a retry cannot fix: the same input fails the same way. */
export const NON_RETRYABLE_ERROR_TYPES: ReadonlySet<string> = new Set([
  'ResultTooLarge',
  'ResultNotSerializable',
  'InputTooLarge',
  'ImportModuleError',
  'HandlerNotFound',
  'DependencyInstallFailed',
  'SecretNotFound',
  'Cancelled',
]);
