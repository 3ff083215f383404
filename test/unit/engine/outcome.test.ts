import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executionCost } from '../../../src/engine/cost.ts';
import { verdictFor } from '../../../src/engine/outcome.ts';

const limits = { timeoutSeconds: 3, memoryMb: 128, maxResultBytes: 1000 };

test('every non-success outcome carries an error type a user can act on', () => {
  const cases = [
    [{ kind: 'timed_out' }, 'timed_out', 'TimeoutError'],
    [{ kind: 'memory_exceeded' }, 'memory_exceeded', 'MemoryLimitExceeded'],
    [{ kind: 'result_too_large', bytes: 5000 }, 'failed', 'ResultTooLarge'],
    [{ kind: 'cancelled' }, 'cancelled', 'Cancelled'],
    [{ kind: 'error', error: { type: 'ValueError', message: 'bad' } }, 'failed', 'ValueError'],
    [
      { kind: 'crashed', error: { type: 'SandboxCrashed', message: 'exit 139' } },
      'failed',
      'SandboxCrashed',
    ],
  ] as const;
  for (const [outcome, status, type] of cases) {
    const v = verdictFor(outcome, limits);
    assert.equal(v.status, status);
    assert.equal(v.error?.type, type);
  }
});

test('the timeout and memory messages name the limit that was hit', () => {
  assert.match(verdictFor({ kind: 'timed_out' }, limits).error!.message, /3s/);
  assert.match(verdictFor({ kind: 'memory_exceeded' }, limits).error!.message, /128 MB/);
});

test('success keeps the output and has no error', () => {
  assert.deepEqual(verdictFor({ kind: 'ok', output: { a: 1 } }, limits), {
    status: 'succeeded',
    output: { a: 1 },
    error: null,
  });
});

test('cost is a fee per call plus GB-seconds rounded up to the millisecond', () => {
  assert.ok(Math.abs(executionCost(1024, 1000) - (0.0000002 + 0.0000166667)) < 1e-12);
  assert.equal(executionCost(512, 0.2), executionCost(512, 1));
  assert.ok(executionCost(2048, 100) > executionCost(1024, 100));
});
