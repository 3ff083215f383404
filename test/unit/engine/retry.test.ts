/** What follows an attempt: finish, retry with jittered exponential backoff, or dead. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExecutionError, ExecutionStatus } from '../../../src/domain/index.ts';
import { NON_RETRYABLE_ERROR_TYPES } from '../../../src/engine/outcome.ts';
import {
  abandonedAttempt,
  backoffDelay,
  decideAfterAttempt,
  isSettled,
  workerLostError,
} from '../../../src/engine/retry.ts';

const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
const failed = (type = 'Error'): { status: ExecutionStatus; error: ExecutionError } => ({
  status: 'failed',
  error: { type, message: 'boom' },
});

test('a failed async attempt with attempts left is retried after a backoff within its bounds', () => {
  assert.deepEqual(
    decideAfterAttempt(failed(), 1, 3, true, policy, () => 0),
    { action: 'retry', delayMs: 10 },
  );
  assert.deepEqual(
    decideAfterAttempt(failed(), 1, 3, true, policy, () => 1),
    { action: 'retry', delayMs: 100 },
  );
  assert.deepEqual(
    decideAfterAttempt(failed(), 2, 3, true, policy, () => 1),
    { action: 'retry', delayMs: 200 },
  );
});

test('timed out and out-of-memory attempts are retried too', () => {
  for (const status of ['timed_out', 'memory_exceeded'] as const) {
    const d = decideAfterAttempt(
      { status, error: { type: 'X', message: '' } },
      1,
      2,
      true,
      policy,
      () => 0.5,
    );
    assert.equal(d.action, 'retry');
  }
});

test('the last failed attempt makes the execution dead', () => {
  assert.deepEqual(decideAfterAttempt(failed(), 3, 3, true, policy), { action: 'dead' });
  assert.deepEqual(decideAfterAttempt(failed(), 1, 1, true, policy), { action: 'dead' });
});

test('sync attempts are never retried: the status stands', () => {
  assert.deepEqual(decideAfterAttempt(failed(), 1, 3, false, policy), {
    action: 'finish',
    status: 'failed',
  });
});

test('success and cancel finish at once', () => {
  assert.deepEqual(decideAfterAttempt({ status: 'succeeded', error: null }, 1, 3, true, policy), {
    action: 'finish',
    status: 'succeeded',
  });
  const cancelled = { status: 'cancelled' as const, error: { type: 'Cancelled', message: '' } };
  assert.deepEqual(decideAfterAttempt(cancelled, 1, 3, true, policy), {
    action: 'finish',
    status: 'cancelled',
  });
});

test('every error a retry cannot fix finishes the execution at its first attempt', () => {
  for (const type of [
    'ResultTooLarge',
    'ResultNotSerializable',
    'InputTooLarge',
    'HandlerNotFound',
  ]) {
    assert.ok(NON_RETRYABLE_ERROR_TYPES.has(type), type);
    assert.deepEqual(decideAfterAttempt(failed(type), 1, 3, true, policy), {
      action: 'finish',
      status: 'failed',
    });
  }
});

test('backoff doubles per attempt up to the cap and never falls under a tenth of it', () => {
  const at = (attempt: number, r: number) => backoffDelay(attempt, policy, () => r);
  assert.deepEqual(
    [1, 2, 3, 4, 5, 10].map((a) => at(a, 1)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((a) => at(a, 0)),
    [10, 20, 40, 80, 100],
  );
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3, policy, Math.random);
    assert.ok(d >= 40 && d <= 400, String(d));
  }
});

test('an abandoned attempt is closed as failed with WorkerLost naming its worker', () => {
  const open = {
    attempt: 2,
    status: 'running' as const,
    error: null,
    workerId: 'w_abc',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    durationMs: null,
  };
  const closed = abandonedAttempt(open);
  assert.equal(closed.status, 'failed');
  assert.equal(closed.error?.type, 'WorkerLost');
  assert.match(closed.error?.message ?? '', /attempt 2 .*worker w_abc/);
  assert.equal(closed.startedAt, open.startedAt);
  assert.match(workerLostError(1, null).message, /its worker/);
});

test('an async failure with attempts left, or about to be declared dead, is not settled yet', () => {
  const rec = (
    status: ExecutionStatus,
    attempt: number,
    more: Partial<{ async: boolean; type: string }> = {},
  ) => ({
    status,
    error: status === 'succeeded' ? null : { type: more.type ?? 'Error', message: '' },
    async: more.async ?? true,
    attempt,
    maxAttempts: 3,
  });
  assert.equal(isSettled(rec('failed', 1)), false);
  assert.equal(isSettled(rec('timed_out', 2)), false);
  assert.equal(isSettled(rec('failed', 3)), false, 'the worker is about to write dead');
  assert.equal(isSettled(rec('dead', 3)), true);
  assert.equal(isSettled(rec('succeeded', 2)), true);
  assert.equal(isSettled(rec('failed', 1, { type: 'ResultTooLarge' })), true);
  assert.equal(isSettled(rec('failed', 1, { async: false })), true);
  assert.equal(isSettled(rec('failed', 0)), true, 'never ran: nothing retries it');
  assert.equal(isSettled(rec('running', 1)), false);
  assert.equal(isSettled(rec('queued', 0)), false);
});
